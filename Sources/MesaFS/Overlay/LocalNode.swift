package import MesaCore
package import MesaSync

// The local side of a writable repository: nodes that the mount changed, kept in the journal (SQLite) with file
// content in overlay files beside it. See docs/Architecture.md, "The write path".
//
// A directory becomes local ("materialized") when anything in it changes: its entries are copied from its tree
// (clean entries keep naming their tree entry) and from then on the local node is the truth, so each of its
// ancestors up to the repository root is local as well. A file becomes local when its content, mode or times
// change; until its content changes it keeps reading the blob it came from. Deletions are entries that are gone; no
// whiteouts. Every change stamps the node and its ancestors with a new generation, so an upload rebuilds exactly
// the nodes whose generation is newer than the one it last uploaded, O(dirty x depth).

/// The number of a local node, unique within a state directory and never reused.
package struct LocalID: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The number.
    package var rawValue: Int64

    /// Wraps a number.
    package init(_ rawValue: Int64) { self.rawValue = rawValue }

    package static func < (left: LocalID, right: LocalID) -> Bool { left.rawValue < right.rawValue }

    package var description: String { "local \(rawValue)" }
}

/// What a local node is.
package enum LocalKind: Int, Sendable, Hashable {
    /// A regular file (its mode says whether it is executable).
    case file = 0
    /// A symbolic link.
    case symlink = 1
    /// A directory.
    case directory = 2

    /// What `stat` shows.
    package var nodeKind: NodeKind {
        switch self {
        case .file: .regularFile
        case .symlink: .symbolicLink
        case .directory: .directory
        }
    }
}

/// An entry of a local directory.
package enum LocalItem: Sendable, Hashable {
    /// A tree entry unchanged since the directory was materialized (or moved here unchanged).
    case clean(EntryKind, ObjectID)
    /// A local node.
    case local(LocalID, LocalKind)
}

/// Where a local file's bytes are.
package enum LocalContent: Sendable, Hashable {
    /// In its overlay file.
    case overlay
    /// Still the blob it came from (only its mode or times changed).
    case blob(ObjectID)
}

/// One local node: a file, a symbolic link or a directory.
package struct LocalNode: Sendable, Hashable {
    /// Its number.
    package var id: LocalID
    /// The directory that holds it (`nil` for a repository's root directory).
    package var parent: LocalID?
    /// What it is.
    package var kind: LocalKind
    /// Permission bits (git keeps only the executable bit; the mount shows all of them until restart).
    package var permissions: UInt32
    /// Files: where the bytes are.
    package var content: LocalContent = .overlay
    /// Files: the size in bytes.
    package var size: Int64 = 0
    /// Symbolic links: the target.
    package var target: [UInt8] = []
    /// Directories: the entries.
    package var entries: [FileName: LocalItem] = [:]
    /// Modification time.
    package var modificationTime: Timestamp
    /// Access time.
    package var accessTime: Timestamp
    /// The generation of its last change, or of the last change below it (directories).
    package var generation: Int64
    /// The generation its last acknowledged upload covered, and the object id it was uploaded as.
    package var uploaded: Uploaded?
    /// Local only (`.mesaignore`): never in the journal, never uploaded, gone when the daemon restarts. Everything
    /// below an ignored directory is ignored.
    package var ignored = false

    /// What an upload acknowledged for a node.
    package struct Uploaded: Sendable, Hashable {
        /// The node's generation when its content was read for the upload.
        package var generation: Int64
        /// The blob or tree it was uploaded as (`nil` for a directory left out for being empty).
        package var id: ObjectID?

        /// Creates a record of an upload.
        package init(generation: Int64, id: ObjectID?) {
            self.generation = generation
            self.id = id
        }
    }

    /// Creates a node.
    package init(
        id: LocalID, parent: LocalID?, kind: LocalKind, permissions: UInt32, time: Timestamp, generation: Int64
    ) {
        self.id = id
        self.parent = parent
        self.kind = kind
        self.permissions = permissions
        modificationTime = time
        accessTime = time
        self.generation = generation
    }

    /// Whether it changed since its last acknowledged upload.
    package var isDirty: Bool { generation > (uploaded?.generation ?? 0) }

    /// The tree entry kind it uploads as.
    package var entryKind: EntryKind {
        switch kind {
        case .file: permissions & 0o100 != 0 ? .executable : .regular
        case .symlink: .symlink
        case .directory: .directory
        }
    }
}
