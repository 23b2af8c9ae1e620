// The JSON answer of `GET /{org}/{repo}/diff` (MESA-API.md, "Diff JSON").
//
// Keys that are "present, possibly null" (`old_path`, `omitted_reason`, `hunks`, `conflict_hunks`, a conflict side)
// are always written, `null` where empty; `size_bytes` is written only when known. Decoding accepts their absence,
// so a client reads older servers' answers too.

/// A diff between two changes.
public struct Diff: Codable, Sendable, Equatable {
    /// The change the diff starts from.
    public var baseChangeID: String
    /// The change the diff ends at.
    public var headChangeID: String
    /// Counts over the whole diff.
    public var stats: DiffStats
    /// Whether entries were left out because the diff is too large.
    public var truncated: Bool
    /// Changed paths that are not conflicted.
    public var entries: [DiffEntry]
    /// Conflicted paths (only here, never in ``entries``).
    public var conflictedEntries: [ConflictedDiffEntry]

    enum CodingKeys: String, CodingKey {
        case stats, truncated, entries
        case baseChangeID = "base_change_id"
        case headChangeID = "head_change_id"
        case conflictedEntries = "conflicted_entries"
    }

    /// Creates a diff.
    public init(
        baseChangeID: String,
        headChangeID: String,
        stats: DiffStats,
        truncated: Bool,
        entries: [DiffEntry],
        conflictedEntries: [ConflictedDiffEntry] = []
    ) {
        self.baseChangeID = baseChangeID
        self.headChangeID = headChangeID
        self.stats = stats
        self.truncated = truncated
        self.entries = entries
        self.conflictedEntries = conflictedEntries
    }

    /// Decodes, accepting the absence of keys this model defaults.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        baseChangeID = try container.decode(String.self, forKey: .baseChangeID)
        headChangeID = try container.decode(String.self, forKey: .headChangeID)
        stats = try container.decode(DiffStats.self, forKey: .stats)
        truncated = try container.decodeIfPresent(Bool.self, forKey: .truncated) ?? false
        entries = try container.decode([DiffEntry].self, forKey: .entries)
        conflictedEntries = try container.decodeIfPresent([ConflictedDiffEntry].self, forKey: .conflictedEntries) ?? []
    }
}

/// Counts over a diff.
public struct DiffStats: Codable, Sendable, Equatable {
    /// Changed paths.
    public var entries: Int
    /// Added lines.
    public var additions: Int
    /// Deleted lines.
    public var deletions: Int
    /// Added plus deleted lines.
    public var changes: Int
    /// Conflicted paths.
    public var conflictedEntries: Int
    /// Conflicted hunks over all conflicted paths.
    public var conflictedHunks: Int

    enum CodingKeys: String, CodingKey {
        case entries, additions, deletions, changes
        case conflictedEntries = "conflicted_entries"
        case conflictedHunks = "conflicted_hunks"
    }

    /// Creates stats.
    public init(
        entries: Int,
        additions: Int,
        deletions: Int,
        changes: Int,
        conflictedEntries: Int = 0,
        conflictedHunks: Int = 0
    ) {
        self.entries = entries
        self.additions = additions
        self.deletions = deletions
        self.changes = changes
        self.conflictedEntries = conflictedEntries
        self.conflictedHunks = conflictedHunks
    }

    /// Decodes, accepting the absence of keys this model defaults.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        entries = try container.decode(Int.self, forKey: .entries)
        additions = try container.decode(Int.self, forKey: .additions)
        deletions = try container.decode(Int.self, forKey: .deletions)
        changes = try container.decode(Int.self, forKey: .changes)
        conflictedEntries = try container.decodeIfPresent(Int.self, forKey: .conflictedEntries) ?? 0
        conflictedHunks = try container.decodeIfPresent(Int.self, forKey: .conflictedHunks) ?? 0
    }
}

/// How a path changed.
public enum DiffStatus: String, Codable, Sendable, Equatable {
    case added, deleted, modified, renamed
}

/// Why a changed path carries no hunks.
public enum DiffOmittedReason: String, Codable, Sendable, Equatable {
    /// The file is binary.
    case binary
    /// The file is too large to diff.
    case tooLarge = "too_large"
    /// The diff reached its file limit before this path.
    case fileLimit = "file_limit"
}

/// One changed path of a diff.
public struct DiffEntry: Codable, Sendable, Equatable {
    /// The path after the change.
    public var path: String
    /// How the path changed.
    public var status: DiffStatus
    /// The path before a rename, `nil` otherwise.
    public var oldPath: String?
    /// Whether the path is conflicted at the head.
    public var isConflicted: Bool
    /// Why ``hunks`` is `nil`, when it is.
    public var omittedReason: DiffOmittedReason?
    /// The line hunks, `nil` when omitted.
    public var hunks: [DiffHunk]?
    /// Conflict hunks of this path, `nil` when it has none.
    public var conflictHunks: [ConflictHunk]?
    /// The file's size, when the server reports it.
    public var sizeBytes: Int64?

    enum CodingKeys: String, CodingKey {
        case path, status, hunks
        case oldPath = "old_path"
        case isConflicted = "is_conflicted"
        case omittedReason = "omitted_reason"
        case conflictHunks = "conflict_hunks"
        case sizeBytes = "size_bytes"
    }

    /// Creates an entry.
    public init(
        path: String,
        status: DiffStatus,
        oldPath: String? = nil,
        isConflicted: Bool = false,
        omittedReason: DiffOmittedReason? = nil,
        hunks: [DiffHunk]?,
        conflictHunks: [ConflictHunk]? = nil,
        sizeBytes: Int64? = nil
    ) {
        self.path = path
        self.status = status
        self.oldPath = oldPath
        self.isConflicted = isConflicted
        self.omittedReason = omittedReason
        self.hunks = hunks
        self.conflictHunks = conflictHunks
        self.sizeBytes = sizeBytes
    }

    /// Decodes, accepting the absence of keys this model defaults.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        path = try container.decode(String.self, forKey: .path)
        status = try container.decode(DiffStatus.self, forKey: .status)
        oldPath = try container.decodeIfPresent(String.self, forKey: .oldPath)
        isConflicted = try container.decodeIfPresent(Bool.self, forKey: .isConflicted) ?? false
        omittedReason = try container.decodeIfPresent(DiffOmittedReason.self, forKey: .omittedReason)
        hunks = try container.decodeIfPresent([DiffHunk].self, forKey: .hunks)
        conflictHunks = try container.decodeIfPresent([ConflictHunk].self, forKey: .conflictHunks)
        sizeBytes = try container.decodeIfPresent(Int64.self, forKey: .sizeBytes)
    }

    /// Encodes, writing nullable keys as `null`.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(path, forKey: .path)
        try container.encode(status, forKey: .status)
        try container.encode(oldPath, forKey: .oldPath)
        try container.encode(isConflicted, forKey: .isConflicted)
        try container.encode(omittedReason, forKey: .omittedReason)
        try container.encode(hunks, forKey: .hunks)
        try container.encode(conflictHunks, forKey: .conflictHunks)
        try container.encodeIfPresent(sizeBytes, forKey: .sizeBytes)
    }
}

/// A run of changed lines.
public struct DiffHunk: Codable, Sendable, Equatable {
    /// The first line in the base file (1-based).
    public var oldStart: Int
    /// Lines of the base file in the hunk.
    public var oldLines: Int
    /// The first line in the head file (1-based).
    public var newStart: Int
    /// Lines of the head file in the hunk.
    public var newLines: Int
    /// The hunk's lines in order.
    public var lines: [DiffLine]

    enum CodingKeys: String, CodingKey {
        case lines
        case oldStart = "old_start"
        case oldLines = "old_lines"
        case newStart = "new_start"
        case newLines = "new_lines"
    }

    /// Creates a hunk.
    public init(oldStart: Int, oldLines: Int, newStart: Int, newLines: Int, lines: [DiffLine]) {
        self.oldStart = oldStart
        self.oldLines = oldLines
        self.newStart = newStart
        self.newLines = newLines
        self.lines = lines
    }
}

/// One line of a hunk.
public struct DiffLine: Codable, Sendable, Equatable {
    /// What the line is.
    public enum Kind: String, Codable, Sendable, Equatable {
        case added, deleted, context, annotation
    }

    /// What the line is.
    public var kind: Kind
    /// The line's text, without its end-of-line.
    public var text: String

    /// Creates a line.
    public init(kind: Kind, text: String) {
        self.kind = kind
        self.text = text
    }
}

/// A conflicted path of a diff.
public struct ConflictedDiffEntry: Codable, Sendable, Equatable {
    /// The conflicted path.
    public var path: String
    /// Its conflicted regions.
    public var hunks: [ConflictHunk]
    /// The file's size, when the server reports it.
    public var sizeBytes: Int64?
    /// Why hunks are left out, when they are.
    public var omittedReason: DiffOmittedReason?

    enum CodingKeys: String, CodingKey {
        case path, hunks
        case sizeBytes = "size_bytes"
        case omittedReason = "omitted_reason"
    }

    /// Creates a conflicted entry.
    public init(path: String, hunks: [ConflictHunk], sizeBytes: Int64? = nil, omittedReason: DiffOmittedReason? = nil) {
        self.path = path
        self.hunks = hunks
        self.sizeBytes = sizeBytes
        self.omittedReason = omittedReason
    }
}

/// One conflicted region: the three sides, each base64 content or `nil` (the side has no such file).
public struct ConflictHunk: Codable, Sendable, Equatable {
    /// Names the hunk in a per-hunk resolution.
    public var hunkID: String
    /// Where the hunk starts (1-based) in the file as it reads when every hunk takes the target side.
    public var oldStart: Int
    /// Lines of the target side.
    public var oldLines: Int
    /// Where the hunk starts (1-based) in the file as it reads when every hunk takes the source side.
    public var newStart: Int
    /// Lines of the source side.
    public var newLines: Int
    /// The merge target's side.
    public var target: ConflictSide?
    /// The common ancestor's side.
    public var base: ConflictSide?
    /// The merge source's side.
    public var source: ConflictSide?

    enum CodingKeys: String, CodingKey {
        case target, base, source
        case hunkID = "hunk_id"
        case oldStart = "old_start"
        case oldLines = "old_lines"
        case newStart = "new_start"
        case newLines = "new_lines"
    }

    /// Creates a conflict hunk.
    public init(
        hunkID: String,
        oldStart: Int,
        oldLines: Int,
        newStart: Int,
        newLines: Int,
        target: ConflictSide?,
        base: ConflictSide?,
        source: ConflictSide?
    ) {
        self.hunkID = hunkID
        self.oldStart = oldStart
        self.oldLines = oldLines
        self.newStart = newStart
        self.newLines = newLines
        self.target = target
        self.base = base
        self.source = source
    }

    /// Decodes, accepting the absence of keys this model defaults.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        hunkID = try container.decode(String.self, forKey: .hunkID)
        oldStart = try container.decode(Int.self, forKey: .oldStart)
        oldLines = try container.decode(Int.self, forKey: .oldLines)
        newStart = try container.decode(Int.self, forKey: .newStart)
        newLines = try container.decode(Int.self, forKey: .newLines)
        target = try container.decodeIfPresent(ConflictSide.self, forKey: .target)
        base = try container.decodeIfPresent(ConflictSide.self, forKey: .base)
        source = try container.decodeIfPresent(ConflictSide.self, forKey: .source)
    }

    /// Encodes, writing nullable keys as `null`.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(hunkID, forKey: .hunkID)
        try container.encode(oldStart, forKey: .oldStart)
        try container.encode(oldLines, forKey: .oldLines)
        try container.encode(newStart, forKey: .newStart)
        try container.encode(newLines, forKey: .newLines)
        try container.encode(target, forKey: .target)
        try container.encode(base, forKey: .base)
        try container.encode(source, forKey: .source)
    }
}

/// One side of a conflict hunk: its base64 content.
public struct ConflictSide: Codable, Sendable, Equatable {
    /// The side's bytes, base64.
    public var content: String

    /// Creates a side.
    public init(content: String) {
        self.content = content
    }
}
