import Crypto
import MesaCore

/// One conflicted region of a working copy: the lines between a `<<<<<<<` marker and its `>>>>>>>` marker.
///
/// A merge writes regions in git's diff3 style: the target's lines, then `|||||||` and the base's lines, then
/// `=======` and the source's lines. A region without a `|||||||` section (written by hand or by a two-way merge), or
/// with an empty one whose marker has no label (libgit2's rendering of a file both sides added), has no base.
package struct ConflictRegion: Sendable, Hashable {
    /// Names the region in a per-hunk resolution: its 1-based position in the file and a digest of its bytes, so a
    /// name from an earlier answer never applies to a region whose content has changed since.
    package var id: String
    /// The lines the region spans in the file, markers included (0-based line indices).
    package var lines: Range<Int>
    /// The target's (ours) lines, each with its line break.
    package var target: [UInt8]
    /// The base's lines, or `nil` when the region has no base section.
    package var base: [UInt8]?
    /// The source's (theirs) lines.
    package var source: [UInt8]
    /// Where the region starts (1-based) in the file as it would read if every region took the target side.
    package var targetStart: Int
    /// How many lines the target side has.
    package var targetLines: Int
    /// Where the region starts (1-based) in the file as it would read if every region took the source side.
    package var sourceStart: Int
    /// How many lines the source side has.
    package var sourceLines: Int
}

/// How to resolve one conflicted region.
package enum RegionResolution: Sendable, Hashable {
    /// Keep the target's lines.
    case target
    /// Keep the source's lines.
    case source
    /// Replace the whole region (markers included) with these bytes.
    case content([UInt8])
}

/// Reads and resolves the conflict markers of a working copy, bytewise (any encoding, `\n` line breaks; a `\r`
/// before it stays part of the line).
package enum ConflictMarkers {
    private enum Marker { case open, base, separator, close }

    /// The marker a line is, if any: seven marker characters followed by a space or the end of the line.
    private static func marker(_ line: ArraySlice<UInt8>) -> Marker? {
        guard line.count >= 7 else { return nil }
        let first = line[line.startIndex]
        let kind: Marker
        switch first {
        case UInt8(ascii: "<"): kind = .open
        case UInt8(ascii: "|"): kind = .base
        case UInt8(ascii: "="): kind = .separator
        case UInt8(ascii: ">"): kind = .close
        default: return nil
        }
        let head = line.prefix(7)
        guard head.allSatisfy({ $0 == first }) else { return nil }
        let rest = line.dropFirst(7)
        guard let next = rest.first else { return kind }
        // `=======` stands alone; the others may carry a label.
        if next == UInt8(ascii: "\n") || next == UInt8(ascii: "\r") { return kind }
        return next == UInt8(ascii: " ") && kind != .separator ? kind : nil
    }

    /// The file's lines, each with its line break (the last one may have none).
    static func lines(_ bytes: [UInt8]) -> [ArraySlice<UInt8>] {
        var lines: [ArraySlice<UInt8>] = []
        var start = 0
        for index in bytes.indices where bytes[index] == UInt8(ascii: "\n") {
            lines.append(bytes[start...index])
            start = index + 1
        }
        if start < bytes.count { lines.append(bytes[start...]) }
        return lines
    }

    /// The conflicted regions of `bytes`, in file order. An unterminated or malformed region is not a region.
    package static func regions(in bytes: [UInt8]) -> [ConflictRegion] {
        let lines = lines(bytes)
        var regions: [ConflictRegion] = []
        var targetLine = 1
        var sourceLine = 1
        var index = 0
        while index < lines.count {
            guard marker(lines[index]) == .open, let region = region(in: lines, from: index) else {
                targetLine += 1
                sourceLine += 1
                index += 1
                continue
            }
            let sides = region.sides
            let raw = lines[region.lines].reduce(into: [UInt8]()) { $0 += $1 }
            let digest = Hex.encode(SHA256.hash(data: raw).prefix(6))
            regions.append(
                ConflictRegion(
                    id: "\(regions.count + 1)-\(digest)", lines: region.lines,
                    target: sides.target.reduce(into: []) { $0 += $1 },
                    base: sides.base.map { $0.reduce(into: []) { $0 += $1 } },
                    source: sides.source.reduce(into: []) { $0 += $1 },
                    targetStart: targetLine, targetLines: sides.target.count,
                    sourceStart: sourceLine, sourceLines: sides.source.count))
            targetLine += sides.target.count
            sourceLine += sides.source.count
            index = region.lines.upperBound
        }
        return regions
    }

    private typealias Sides = (
        target: [ArraySlice<UInt8>], base: [ArraySlice<UInt8>]?, source: [ArraySlice<UInt8>]
    )

    /// The region opened at `start`, if it is well formed: `|||||||` at most once and before `=======`, which comes
    /// exactly once, then `>>>>>>>`; no second `<<<<<<<` inside.
    private static func region(in lines: [ArraySlice<UInt8>], from start: Int) -> (lines: Range<Int>, sides: Sides)? {
        var sides: Sides = ([], nil, [])
        var section = Marker.open
        // libgit2 writes a bare `|||||||` when the file has no base version (added on both sides).
        var unlabelledBase = false
        var index = start + 1
        while index < lines.count {
            let line = lines[index]
            switch (marker(line), section) {
            case (.open?, _): return nil
            case (.base?, .open):
                section = .base
                sides.base = []
                unlabelledBase = line.dropFirst(7).allSatisfy { $0 == UInt8(ascii: "\n") || $0 == UInt8(ascii: "\r") }
            case (.separator?, .open), (.separator?, .base): section = .separator
            case (.close?, .separator):
                if unlabelledBase, sides.base?.isEmpty == true { sides.base = nil }
                return (start..<(index + 1), sides)
            case (.base?, _), (.separator?, _), (.close?, _): return nil
            case (nil, .open): sides.target.append(line)
            case (nil, .base): sides.base?.append(line)
            case (nil, _): sides.source.append(line)
            }
            index += 1
        }
        return nil
    }

    /// `bytes` with each region replaced as `resolutions` say, by region id.
    /// - Throws: ``MarkerResolutionError`` naming the ids that name no region and the regions left without a
    ///   resolution (every region must be resolved); nothing is replaced then.
    package static func resolve(
        _ bytes: [UInt8], _ resolutions: [String: RegionResolution]
    ) throws(MarkerResolutionError) -> [UInt8] {
        let regions = regions(in: bytes)
        let known = Set(regions.map(\.id))
        let unknown = resolutions.keys.filter { !known.contains($0) }.sorted()
        let unresolved = regions.filter { resolutions[$0.id] == nil }
        guard unknown.isEmpty, unresolved.isEmpty else {
            throw MarkerResolutionError(unknownIDs: unknown, unresolved: unresolved)
        }
        let lines = lines(bytes)
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count)
        var next = 0
        for region in regions {
            for line in lines[next..<region.lines.lowerBound] { output += line }
            switch resolutions[region.id]! {
            case .target: output += region.target
            case .source: output += region.source
            case .content(let replacement): output += replacement
            }
            next = region.lines.upperBound
        }
        for line in lines[next...] { output += line }
        return output
    }
}

/// A per-hunk resolution that does not cover a working copy's regions exactly.
package struct MarkerResolutionError: Error, Sendable, Equatable {
    /// Hunk ids that name no region of the file (stale or made up).
    package var unknownIDs: [String]
    /// The regions no resolution names.
    package var unresolved: [ConflictRegion]

    package init(unknownIDs: [String], unresolved: [ConflictRegion]) {
        self.unknownIDs = unknownIDs
        self.unresolved = unresolved
    }
}
