import MesaCore
@testable import MesaFS
import MesaSync
import Testing

/// The inode table as a plain value.
@Suite struct InodeTableTests {
    static func blob(_ byte: UInt8) -> ObjectID { ObjectID(bytes: [UInt8](repeating: byte, count: 20))! }

    @Test func aPathKeepsItsNumberWhileItsContentStays() {
        var table = InodeTable(mountTime: 1)
        let name = FileName("a")
        let first = table.load(name, .clean(.regular, Self.blob(1)), size: 3, time: 10)
        table.addLookups(first.number)
        let evicted = table.forget(first.number, count: 1)
        #expect(evicted)
        #expect(table[first.number] == nil)
        let again = table.load(name, .clean(.regular, Self.blob(1)), size: 3, time: 20)
        #expect(again.number == first.number)
        #expect(again.modificationTime == 10)
        let changed = table.load(name, .clean(.regular, Self.blob(2)), size: 3, time: 30)
        #expect(changed.number != first.number)
        #expect(changed.modificationTime == 30)
    }

    @Test func directoriesKeepTheirNumberWhenTheirTreeChanges() {
        var table = InodeTable(mountTime: 1)
        let name = FileName("d")
        let first = table.load(name, .clean(.directory, Self.blob(1)), size: 0, time: 10)
        table.addLookups(first.number)
        let second = table.load(name, .clean(.directory, Self.blob(2)), size: 0, time: 20)
        #expect(second.number == first.number)
        #expect(table[first.number]?.content == .clean(.directory, Self.blob(2)))
        #expect(table[first.number]?.modificationTime == 20)
    }

    @Test func replacingAHeldFileDetachesIt() {
        var table = InodeTable(mountTime: 1)
        let name = FileName("f")
        let held = table.load(name, .clean(.regular, Self.blob(1)), size: 1, time: 1)
        table.addLookups(held.number)
        _ = table.load(name, .clean(.directory, Self.blob(2)), size: 0, time: 2)
        #expect(table[held.number]?.attached == false)
        let evicted = table.forget(held.number, count: 1)
        #expect(evicted)
        #expect(table[held.number] == nil)
    }

    @Test func theRootIsNeverEvicted() {
        var table = InodeTable(mountTime: 1)
        let evicted = table.forget(.root, count: 5)
        #expect(!evicted)
        #expect(table[.root] != nil)
    }

    @Test func updateAsksForTheTreesItNeedsBeforeChangingAnything() {
        var table = InodeTable(mountTime: 1)
        let root = table.load(FileName("r"), .clean(.directory, Self.blob(1)), size: 0, time: 1)
        table.addLookups(root.number)
        let first = table.update(root: root.number, to: Self.blob(2), time: 2, listings: [:])
        guard case .needsTrees(let needed) = first else {
            Issue.record("expected a request for trees")
            return
        }
        #expect(needed == [Self.blob(1), Self.blob(2)])
        #expect(table[root.number]?.content == .clean(.directory, Self.blob(1)))
        let entry = SourceEntry(name: FileName("x"), kind: .regular, id: Self.blob(9))
        let old = SourceTree(id: Self.blob(1), entries: [entry])
        let new = SourceTree(id: Self.blob(2), entries: [])
        guard case .applied(let invalidation) = table.update(
            root: root.number, to: Self.blob(2), time: 2, listings: [Self.blob(1): old, Self.blob(2): new])
        else {
            Issue.record("expected the update to apply")
            return
        }
        #expect(invalidation.entries == [Invalidation.Entry(parent: root.number, name: FileName("x"))])
        #expect(invalidation.inodes == [root.number])
    }
}

extension InodeTable {
    /// Loads a child of the root in repository 0.
    fileprivate mutating func load(_ name: FileName, _ content: InodeContent, size: Int64, time: Int64) -> Inode {
        load(parent: .root, name: name, content: content, repository: 0, size: size, time: time)
    }
}
