package import MesaCore
import MesaSync

// The inode table: two maps with different lifetimes.
//
// `slots` is the session's naming: (parent number, name) -> the number given to that path and the content it was
// given for. Slots live for the whole mount session, so a path keeps its inode number across kernel forgets and
// re-lookups (git's index and `find -inum` rely on stable numbers). A number stands for one content: a clean
// file whose blob changes gets a new number, a directory keeps its number while its listing changes.
//
// `records` are the loaded inodes: what the kernel holds (lookup count > 0) or an open handle uses. A record is
// evicted when both reach zero; its slot stays. Records of paths that a remote update removed or replaced are
// detached: no slot leads to them, they keep serving the kernel and handles that hold them, and go when forgotten.
//
// The table is a plain value (tested as one) that MesaFS keeps in a Mutex: FUSE threads call `forget`
// synchronously (STYLE.md section 5.5), so this state cannot live in an actor. Nothing here awaits or blocks.

/// Inodes of one mount session. See the file's design note.
struct InodeTable: Sendable {
    private(set) var records: [InodeNumber: Inode] = [:]
    private var slots: [InodeNumber: [FileName: Slot]] = [:]
    private var nextNumber: UInt64 = 2
    /// Paths given a number during the session (slots held).
    private(set) var slotCount = 0

    /// A table holding only the mount root.
    init(mountTime: Int64) {
        records[.root] = Inode(
            number: .root, parent: .root, name: FileName(bytes: []), content: .mountRoot, repository: nil,
            size: 4096, modificationTime: mountTime)
    }

    subscript(_ number: InodeNumber) -> Inode? { records[number] }

    /// The loaded child of `parent` named `name`, if any.
    func loadedChild(of parent: InodeNumber, named name: FileName) -> Inode? {
        slots[parent]?[name].flatMap { records[$0.number] }
    }

    // MARK: Naming and loading

    /// The slot of a child path for `content`: the path's number when the content keeps its identity, otherwise a
    /// new number (the old inode, if loaded, is detached).
    mutating func slot(parent: InodeNumber, name: FileName, content: InodeContent, time: Int64) -> Slot {
        if var slot = slots[parent]?[name] {
            if slot.content == content { return slot }
            if slot.content.keepsIdentity(with: content) {
                slot.content = content
                slot.modificationTime = time
                slots[parent, default: [:]][name] = slot
                records[slot.number]?.content = content
                records[slot.number]?.modificationTime = time
                return slot
            }
            removeSlot(parent: parent, name: name)
        }
        let slot = Slot(number: allocate(), content: content, modificationTime: time)
        slots[parent, default: [:]][name] = slot
        slotCount += 1
        return slot
    }

    /// Loads the child `name` of `parent` with `content` (creating its record from its slot when needed).
    mutating func load(
        parent: InodeNumber,
        name: FileName,
        content: InodeContent,
        repository: Int?,
        size: Int64,
        time: Int64
    ) -> Inode {
        let slot = slot(parent: parent, name: name, content: content, time: time)
        if var record = records[slot.number] {
            record.size = size
            records[slot.number] = record
            return record
        }
        let record = Inode(
            number: slot.number, parent: parent, name: name, content: slot.content, repository: repository,
            size: size, modificationTime: slot.modificationTime)
        records[slot.number] = record
        return record
    }

    /// Loads an inode for an entry of a listing that was already out of date: a fresh number that no name leads
    /// to, not cacheable by the kernel.
    mutating func loadDetached(
        parent: InodeNumber,
        name: FileName,
        content: InodeContent,
        repository: Int?,
        size: Int64,
        time: Int64
    ) -> Inode {
        var record = Inode(
            number: allocate(), parent: parent, name: name, content: content, repository: repository, size: size,
            modificationTime: time)
        record.attached = false
        record.cacheable = false
        records[record.number] = record
        return record
    }

    /// A number no name leads to (an entry of an out-of-date listing).
    mutating func reserveNumber() -> InodeNumber { allocate() }

    private mutating func allocate() -> InodeNumber {
        defer { nextNumber += 1 }
        return InodeNumber(nextNumber)
    }

    // MARK: Local changes

    /// Gives a path's number new content in place (a clean file or directory becoming local): the number stays,
    /// whatever the content's kind, because the kernel and open files hold it.
    mutating func replaceContent(of number: InodeNumber, with content: InodeContent) {
        guard let record = records[number] else { return }
        if var slot = slots[record.parent]?[record.name], slot.number == number {
            slot.content = content
            slots[record.parent, default: [:]][record.name] = slot
        }
        records[number]?.content = content
    }

    /// Names a new local entry (`create`, `mkdir`, `symlink`) and loads it.
    mutating func loadNew(
        parent: InodeNumber, name: FileName, content: InodeContent, repository: Int, size: Int64, time: Int64
    ) -> Inode {
        removeSlot(parent: parent, name: name)
        return load(parent: parent, name: name, content: content, repository: repository, size: size, time: time)
    }

    /// Removes a name (`unlink`, `rmdir`): what it named, if loaded, is detached (no links) and keeps serving
    /// whoever holds it.
    /// - Returns: the detached inodes still held.
    @discardableResult
    mutating func removeName(parent: InodeNumber, name: FileName) -> [InodeNumber] {
        removeSlot(parent: parent, name: name)
    }

    /// Moves a name (`rename`), keeping its number; a name it replaces is removed first.
    /// - Returns: the number moved, if the name had one.
    @discardableResult
    mutating func moveName(
        parent: InodeNumber, name: FileName, to newParent: InodeNumber, newName: FileName
    ) -> InodeNumber? {
        if parent == newParent, name == newName { return slots[parent]?[name]?.number }
        removeSlot(parent: newParent, name: newName)
        guard let slot = slots[parent]?.removeValue(forKey: name) else { return nil }
        slots[newParent, default: [:]][newName] = slot
        if records[slot.number] != nil {
            records[slot.number]?.parent = newParent
            records[slot.number]?.name = newName
        }
        return slot.number
    }

    /// The number a name has, loaded or not.
    func number(of parent: InodeNumber, named name: FileName) -> InodeNumber? { slots[parent]?[name]?.number }

    /// Updates a loaded record (size, times, permissions of a local node).
    mutating func update(_ number: InodeNumber, _ body: (inout Inode) -> Void) {
        guard var record = records[number] else { return }
        body(&record)
        records[number] = record
    }

    // MARK: Lookup counts and handles

    /// Adds to an inode's lookup count (before the reply that hands it to the kernel).
    mutating func addLookups(_ number: InodeNumber, count: UInt64 = 1) {
        records[number]?.lookupCount += count
    }

    /// Subtracts from an inode's lookup count (`forget`); evicts the record when nothing refers to it.
    /// - Returns: whether the record was evicted.
    @discardableResult
    mutating func forget(_ number: InodeNumber, count: UInt64) -> Bool {
        guard var record = records[number] else { return false }
        record.lookupCount -= min(count, record.lookupCount)
        records[number] = record
        return evictIfUnreferenced(number)
    }

    /// Records a read without a handle in the inode's read-ahead window.
    /// - Returns: the bytes to read ahead (0 when the reads are not sequential).
    mutating func recordRead(_ number: InodeNumber, _ range: Range<Int64>) -> Int64 {
        records[number]?.window.record(range) ?? 0
    }

    /// Counts an open handle of an inode.
    mutating func retainHandle(_ number: InodeNumber) {
        records[number]?.openHandles += 1
    }

    /// Uncounts a handle; evicts the record when nothing refers to it.
    mutating func releaseHandle(_ number: InodeNumber) {
        guard var record = records[number] else { return }
        record.openHandles = max(0, record.openHandles - 1)
        records[number] = record
        evictIfUnreferenced(number)
    }

    @discardableResult
    private mutating func evictIfUnreferenced(_ number: InodeNumber) -> Bool {
        guard let record = records[number], record.isUnreferenced else { return false }
        records[number] = nil
        if !record.attached { slots[number] = nil }
        return true
    }

    // MARK: Detaching

    /// Removes a path's slot and detaches what it named, with everything below it.
    /// - Returns: the loaded inodes that were detached (their link count is now 0).
    @discardableResult
    private mutating func removeSlot(parent: InodeNumber, name: FileName) -> [InodeNumber] {
        guard let slot = slots[parent]?.removeValue(forKey: name) else { return [] }
        slotCount -= 1
        return detach(slot.number)
    }

    private mutating func detach(_ number: InodeNumber) -> [InodeNumber] {
        var detached: [InodeNumber] = []
        if let children = slots.removeValue(forKey: number) {
            slotCount -= children.count
            for child in children.values { detached += detach(child.number) }
        }
        if records[number] != nil {
            records[number]?.attached = false
            if !evictIfUnreferenced(number) { detached.append(number) }
        }
        return detached
    }

    // MARK: Remote updates

    /// The outcome of ``update(root:to:time:listings:)``.
    enum UpdateStep {
        /// These trees must be fetched (into `listings`) before the update can be applied; nothing changed yet.
        case needsTrees(Set<ObjectID>)
        /// The update was applied; the kernel must drop these names and inodes.
        case applied(Invalidation)
    }

    /// Moves the directory inode `root` (a repository root) and every loaded directory below it to the trees of a
    /// new revision.
    ///
    /// Directories keep their numbers; a name whose entry changed or went away is invalidated in the kernel, its
    /// slot removed and its inode (if loaded) detached, so the next lookup gets a new inode for the new content
    /// while open handles keep the old one. Directories not loaded are only renamed in their slot; paths below
    /// them are checked against their new content when they are next looked up.
    /// - Parameters:
    ///   - listings: decoded trees available so far, by id.
    mutating func update(
        root: InodeNumber,
        to newRoot: ObjectID,
        time: Int64,
        listings: [ObjectID: SourceTree]
    ) -> UpdateStep {
        var needed = Set<ObjectID>()
        var work = [(root, newRoot)]
        while let (directory, newTree) = work.popLast() {
            guard let old = changedTree(directory, to: newTree) else { continue }
            let missing = [old, newTree].filter { listings[$0] == nil }
            guard missing.isEmpty, let newListing = listings[newTree] else {
                needed.formUnion(missing)
                continue
            }
            for (name, slot) in slots[directory] ?? [:] where records[slot.number] != nil {
                if let entry = newListing.entry(named: name), entry.kind == .directory,
                    slot.content.nodeKind == .directory
                {
                    work.append((slot.number, entry.id))
                }
            }
        }
        if !needed.isEmpty { return .needsTrees(needed) }

        var invalidation = Invalidation()
        work = [(root, newRoot)]
        while let (directory, newTree) = work.popLast() {
            guard let old = changedTree(directory, to: newTree), let record = records[directory],
                let oldListing = listings[old], let newListing = listings[newTree]
            else { continue }
            var changed = Set<FileName>()
            for entry in oldListing.entries where newListing.entry(named: entry.name) != entry {
                changed.insert(entry.name)
            }
            for entry in newListing.entries where oldListing.entry(named: entry.name) == nil {
                changed.insert(entry.name)
            }
            for name in changed.sorted() {
                invalidation.entries.append(Invalidation.Entry(parent: directory, name: name))
            }
            invalidation.inodes.append(directory)
            let content = InodeContent.clean(.directory, newTree)
            _ = slot(parent: record.parent, name: record.name, content: content, time: time)
            records[directory]?.content = content
            records[directory]?.modificationTime = time

            for (name, childSlot) in slots[directory] ?? [:] {
                guard let entry = newListing.entry(named: name) else {
                    invalidation.detached += removeSlot(parent: directory, name: name)
                    continue
                }
                let newContent = InodeContent.clean(entry.kind, entry.id)
                if childSlot.content == newContent { continue }
                if records[childSlot.number] != nil, entry.kind == .directory,
                    case .clean(.directory, _) = childSlot.content
                {
                    work.append((childSlot.number, entry.id))
                } else if childSlot.content.keepsIdentity(with: newContent) {
                    // A directory that became a submodule or the reverse: same number, new listing.
                    _ = slot(parent: directory, name: name, content: newContent, time: time)
                    if records[childSlot.number] != nil { invalidation.inodes.append(childSlot.number) }
                } else {
                    invalidation.detached += removeSlot(parent: directory, name: name)
                }
            }
        }
        return .applied(invalidation)
    }

    /// The current tree of a loaded, attached tree-backed directory when it differs from `newTree`.
    private func changedTree(_ directory: InodeNumber, to newTree: ObjectID) -> ObjectID? {
        guard let record = records[directory], record.attached, case .clean(.directory, let old) = record.content,
            old != newTree
        else { return nil }
        return old
    }
}

/// What the kernel must forget after a remote update: names (`fuse_lowlevel_notify_inval_entry`) and inodes
/// whose attributes or listing changed (`fuse_lowlevel_notify_inval_inode`).
package struct Invalidation: Sendable, Hashable {
    /// A name in a directory.
    package struct Entry: Sendable, Hashable {
        /// The directory.
        package var parent: InodeNumber
        /// The name.
        package var name: FileName

        /// Creates an entry.
        package init(parent: InodeNumber, name: FileName) {
            self.parent = parent
            self.name = name
        }
    }

    /// Names to drop from the kernel's dentry cache, in walk order.
    package var entries: [Entry] = []
    /// Directories whose attributes and listing to drop.
    package var inodes: [InodeNumber] = []
    /// Inodes the kernel holds whose path went away or now names other content: their attributes changed (no
    /// links) but not their content, so only attributes are dropped and their pages stay valid for open handles.
    package var detached: [InodeNumber] = []

    /// Creates an empty set.
    package init() {}

    /// Whether there is nothing to invalidate.
    package var isEmpty: Bool { entries.isEmpty && inodes.isEmpty && detached.isEmpty }
}
