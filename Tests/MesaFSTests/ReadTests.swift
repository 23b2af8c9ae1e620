#if canImport(Glibc)
import Glibc
#endif
import MesaCore
import MesaFS
import MesaSync
import MesaTesting
import SystemPackage
import Testing

@Suite struct ReadTests {
    static let big: [UInt8] = {
        var generator = SeededBytes(seed: 7)
        return generator.bytes(3 << 20)
    }()

    static let tree = FixtureTree([
        "big.bin": .file(big),
        "small.txt": .text("small\n"),
        "empty": .file([]),
        "link": .symlink("small.txt"),
    ])

    @Test func readsReturnTheRequestedRanges() async throws {
        let harness = try FSHarness.local(Self.tree)
        let inode = try await harness.lookup("acme/demo/big.bin").attributes.inode
        let handle = try harness.fs.open(inode, flags: .readOnly).handle
        defer { harness.fs.release(handle) }
        for (offset, size) in [(0, 4096), (65_000, 300_000), (1_000_000, 1 << 20), (Self.big.count - 10, 4096)] {
            let data = try await harness.fs.read(handle, offset: Int64(offset), size: size)
            let end = min(Self.big.count, offset + size)
            #expect(data.joined == Array(Self.big[offset..<end]))
        }
        #expect(try await harness.fs.read(handle, offset: Int64(Self.big.count) + 5, size: 10).count == 0)
        let empty = try await harness.lookup("acme/demo/empty").attributes.inode
        #expect(try await harness.read(empty) == [])
    }

    @Test func readlinkReturnsTheTarget() async throws {
        let harness = try FSHarness.local(Self.tree)
        let link = try await harness.lookup("acme/demo/link").attributes.inode
        #expect(try await harness.fs.readlink(link) == Array("small.txt".utf8))
        let file = try await harness.lookup("acme/demo/small.txt").attributes.inode
        await #expect(throws: FSError.notASymlink) { try await harness.fs.readlink(file) }
    }

    @Test(arguments: [O_WRONLY, O_RDWR, O_RDONLY | O_TRUNC, O_RDONLY | O_APPEND])
    func openingForAChangeIsReadOnly(flags: Int32) async throws {
        let harness = try FSHarness.local(Self.tree)
        let file = try await harness.lookup("acme/demo/small.txt").attributes.inode
        #expect(throws: FSError.readOnly) { try harness.fs.open(file, flags: OpenFlags(rawValue: flags)) }
        #expect(FSError.readOnly.errno == .readOnlyFileSystem)
        #expect(harness.fs.statistics().openHandles == 0)
    }

    @Test func everyModificationIsReadOnly() async throws {
        let harness = try FSHarness.local(Self.tree)
        let root = try await harness.repositoryRoot()
        let file = try await harness.lookup("acme/demo/small.txt").attributes.inode
        let name = FileName("new")
        let modifications: [Modification] = [
            .setAttributes(file, AttributeChanges(size: 0), handle: nil),
            .createFile(parent: root, name: name, mode: 0o644, flags: OpenFlags(rawValue: O_WRONLY | O_CREAT)),
            .makeNode(parent: root, name: name, mode: S_IFREG | 0o644, device: 0),
            .makeDirectory(parent: root, name: name, mode: 0o755),
            .makeSymlink(parent: root, name: name, target: [0x61]), .link(file, parent: root, name: name),
            .unlink(parent: root, name: FileName("small.txt")), .removeDirectory(parent: root, name: name),
            .rename(parent: root, name: FileName("small.txt"), newParent: root, newName: name, flags: []),
            .write(file, handle: .inodeReads, offset: 0, bytes: [1]),
            .allocate(file, handle: .inodeReads, mode: 0, offset: 0, length: 10),
        ]
        for modification in modifications {
            await #expect(throws: FSError.readOnly) { try await harness.fs.modify(modification) }
        }
        let statistics = harness.fs.statistics()
        #expect(statistics.openHandles == 0)
        // What a modification names is checked before it is refused.
        let unknown = InodeNumber(999)
        await #expect(throws: FSError.unknownInode(unknown)) {
            try await harness.fs.modify(.setAttributes(unknown, AttributeChanges(mode: 0o600), handle: nil))
        }
        await #expect(throws: FSError.unknownInode(unknown)) {
            try await harness.fs.modify(.write(unknown, handle: .inodeReads, offset: 0, bytes: [1]))
        }
        await #expect(throws: FSError.unknownInode(unknown)) {
            try await harness.fs.modify(.link(file, parent: unknown, name: name))
        }
        await #expect(throws: FSError.unknownHandle(FileHandleID(7))) {
            try await harness.fs.modify(.write(file, handle: FileHandleID(7), offset: 0, bytes: [1]))
        }
        let long = FileName(bytes: Array(repeating: 0x61, count: 256))
        await #expect(throws: FSError.nameTooLong) {
            try await harness.fs.modify(.rename(parent: root, name: name, newParent: root, newName: long, flags: []))
        }
        #expect(harness.fs.lookupCount(of: file) == 1)
    }

    @Test func extendedAttributesAndStatfs() async throws {
        let harness = try FSHarness.local(Self.tree)
        let file = try await harness.lookup("acme/demo/small.txt").attributes.inode
        #expect(throws: FSError.notImplemented(operation: "getxattr")) {
            try harness.fs.getxattr(file, name: FileName("user.x"))
        }
        #expect(try harness.fs.listxattr(file).isEmpty)
        #expect(throws: FSError.attributesNotSupported) {
            try harness.fs.setxattr(file, name: FileName("user.x"), value: [])
        }
        #expect(FSError.noAttribute.errno == .noData)
        #expect(FSError.attributesNotSupported.errno == .notSupported)
        let statistics = harness.fs.statfs()
        #expect(statistics.maximumNameLength == 255)
        #expect(statistics.freeBlocks == 0)
    }

    @Test func zeroMessageOpensReadByInode() async throws {
        let harness = try FSHarness.remote(Self.tree, configuration: FSHarness.configuration(zeroMessageOpens: true))
        let inode = try await harness.lookup("acme/demo/big.bin").attributes.inode
        let opened = try harness.fs.open(inode, flags: .readOnly)
        #expect(opened.handle == .inodeReads)
        #expect(harness.fs.statistics().openHandles == 0 && harness.fs.statistics().opens == 1)
        for (offset, size) in [(0, 4096), (65_000, 300_000), (Self.big.count - 10, 4096)] {
            let data = try await harness.fs.read(inode: inode, offset: Int64(offset), size: size)
            #expect(data.joined == Array(Self.big[offset..<min(offset + size, Self.big.count)]))
        }
        // Sequential reads by inode ramp the read-ahead window as a handle's would: the next chunks are fetched
        // before they are asked for.
        var offset = 0
        while offset < 1 << 20 {
            _ = try await harness.fs.read(inode: inode, offset: Int64(offset), size: 128 << 10)
            offset += 128 << 10
        }
        #expect(harness.source.statistics().readAheadChunks > 0)
        // Write intent is still refused, and directories are not files.
        #expect(throws: FSError.readOnly) { try harness.fs.open(inode, flags: OpenFlags(rawValue: O_WRONLY)) }
        let root = try await harness.repositoryRoot()
        await #expect(throws: FSError.isADirectory) { try await harness.fs.read(inode: root, offset: 0, size: 1) }
        await #expect(throws: FSError.unknownHandle(FileHandleID(99))) {
            try await harness.fs.read(FileHandleID(99), offset: 0, size: 1)
        }
    }

    @Test func aFailingSourceGivesEIOAtOnce() async throws {
        let harness = try FSHarness.remote(Self.tree)
        let fetcher = try #require(harness.fetcher)
        let inode = try await harness.lookup("acme/demo/big.bin").attributes.inode
        fetcher.fail([.records])
        let handle = try harness.fs.open(inode, flags: .readOnly).handle
        let clock = ContinuousClock()
        let start = clock.now
        await #expect {
            _ = try await harness.fs.read(handle, offset: 0, size: 4096)
        } throws: { error in
            (error as? FSError)?.errno == .ioError
        }
        #expect(clock.now - start < .seconds(30))  // fast, not after a retry loop (generous: two shared cores)
        // A later read succeeds once the remote is back.
        fetcher.fail([])
        #expect(try await harness.fs.read(handle, offset: 0, size: 16).joined == Array(Self.big[0..<16]))
    }

    @Test func anInterruptedReadStopsWaiting() async throws {
        let harness = try FSHarness.remote(Self.tree)
        let fetcher = try #require(harness.fetcher)
        let inode = try await harness.lookup("acme/demo/big.bin").attributes.inode
        let handle = try harness.fs.open(inode, flags: .readOnly).handle
        fetcher.delay(.records, by: .seconds(30))
        let fs = harness.fs
        let reader = Task { try await fs.read(handle, offset: 0, size: 4096) }
        try await Task.sleep(for: .milliseconds(200))
        let clock = ContinuousClock()
        let start = clock.now
        reader.cancel()
        await #expect(throws: FSError.interrupted) { try await reader.value }
        #expect(clock.now - start < .seconds(10))  // well before the 30 s delay (generous: two shared cores)
        #expect(FSError.interrupted.errno == .interrupted)
    }
}
