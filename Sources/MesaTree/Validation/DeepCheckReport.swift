/// One problem a deep check of a store found (``DeepCheck``, `mesa debug store fsck --deep`).
package struct StoreFinding: Sendable, Hashable, Comparable, Encodable {
    /// What is wrong. The raw values are what `fsck --deep` prints.
    package enum Kind: String, Sendable, Hashable, CaseIterable, Encodable {
        /// A record does not pass its checksum or does not hash to its id (`ContentStore.verify()`).
        case corrupt
        /// A record no root reaches.
        case unreferenced
        /// A commit names a parent commit the store lacks, or a change names a parent change its repo lacks.
        case danglingParent = "dangling-parent"
        /// A commit names a missing tree, a tree entry a missing subtree or manifest, a manifest a missing chunk, or
        /// a root (a change's commit, a staged record) is missing.
        case danglingReference = "dangling-reference"
        /// A reachable tree breaks a rule of ``TreeValidator/tree(_:id:path:shapeOf:)`` (or names a record of
        /// another kind than its entry's mode says).
        case invalidTree = "invalid-tree"
        /// A reachable commit breaks a rule of ``TreeValidator/commit(_:id:)``.
        case invalidCommit = "invalid-commit"
    }

    /// What is wrong.
    package var kind: Kind
    /// Where: a record key (`tree:<hex>`), or a place outside the store (`repo local/demo change <id>`).
    package var location: String
    /// What was found, in words.
    package var detail: String

    /// Creates a finding.
    package init(_ kind: Kind, at location: String, _ detail: String) {
        self.kind = kind
        self.location = location
        self.detail = detail
    }

    /// `kind<TAB>location<TAB>detail`, with tabs, line breaks and other control characters in the location and the
    /// detail escaped (`\t`, `\n`, `\xNN`), so that a hostile name in a tree cannot forge a line.
    package var line: String { "\(kind.rawValue)\t\(Self.escaped(location))\t\(Self.escaped(detail))" }

    /// Findings sort by kind (in ``Kind`` order), then location, then detail.
    package static func < (lhs: StoreFinding, rhs: StoreFinding) -> Bool {
        let left = Kind.allCases.firstIndex(of: lhs.kind) ?? 0
        let right = Kind.allCases.firstIndex(of: rhs.kind) ?? 0
        return (left, lhs.location, lhs.detail) < (right, rhs.location, rhs.detail)
    }

    private static func escaped(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: isControl) else { return text }
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\t": out += "\\t"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case _ where isControl(scalar):
                let hex = String(scalar.value, radix: 16)
                out += scalar.value < 0x100 ? "\\x" + (hex.count == 1 ? "0" + hex : hex) : "\\u{\(hex)}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    private static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7f...0x9f).contains(scalar.value)
    }
}

/// What a deep check of a store found, and how much it looked at.
package struct DeepCheckReport: Sendable, Hashable, Encodable {
    /// The records in the store.
    package var records: Int
    /// The distinct roots the walk started from.
    package var roots: Int
    /// The records of the store some root reaches.
    package var reachable: Int
    /// The findings, sorted (``StoreFinding/<(_:_:)``).
    package private(set) var findings: [StoreFinding]

    /// Creates a report; `findings` are sorted, each named once.
    package init(records: Int, roots: Int, reachable: Int, findings: [StoreFinding]) {
        self.records = records
        self.roots = roots
        self.reachable = reachable
        self.findings = Set(findings).sorted()
    }

    /// Whether nothing was found.
    package var isClean: Bool { findings.isEmpty }

    /// Adds findings made outside the store walk (the server's change parents), keeping the order.
    package mutating func add(_ more: [StoreFinding]) {
        findings = Set(findings + more).sorted()
    }

    /// How many findings are of `kind`.
    package func count(of kind: StoreFinding.Kind) -> Int {
        findings.reduce(0) { $0 + ($1.kind == kind ? 1 : 0) }
    }

    /// The closing line of `fsck --deep`: `checked N records from R roots (M reachable): 0 corrupt, 1 unreferenced,
    /// ...`, every kind named.
    package var summary: String {
        let counts = StoreFinding.Kind.allCases.map { "\(count(of: $0)) \($0.rawValue)" }.joined(separator: ", ")
        return "checked \(records) records from \(roots) roots (\(reachable) reachable): \(counts)"
    }

    private enum CodingKeys: String, CodingKey {
        case records, roots, reachable, findings, counts, clean
    }

    /// `{"records", "roots", "reachable", "clean", "counts": {kind: n}, "findings": [{"kind", "location", "detail"}]}`.
    package func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(records, forKey: .records)
        try container.encode(roots, forKey: .roots)
        try container.encode(reachable, forKey: .reachable)
        try container.encode(isClean, forKey: .clean)
        var counts: [String: Int] = [:]
        for kind in StoreFinding.Kind.allCases { counts[kind.rawValue] = count(of: kind) }
        try container.encode(counts, forKey: .counts)
        try container.encode(findings, forKey: .findings)
    }
}
