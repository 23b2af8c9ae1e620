import Foundation
import MesaCore
import MesaFS
import MesaStore
import MesaSync
import MesaTesting
import MesaTree
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Seeded sequences of modifications (create, write past the end, truncate, rename, unlink, mkdir, rmdir, chmod,
/// symlink) applied to a writable MesaFS and to a dictionary model of the repository, without a kernel (issue 9,
/// tests). Each step's outcome is checked against the error the model predicts (renameat2(2), unlink(2), rmdir(2),
/// mkdir(2)); every 20 steps the whole tree is walked (readdir, lookup, getattr, read, readlink), every 40 after the
/// kernel forgot everything it was given; every 50 steps the pending changes are built into a commit and
/// acknowledged, and the stored tree compared with the model; every 100 steps (off the uploads) a new MesaFS is
/// opened over the same state directory (a restart), which must show the same tree, empty directories included.
@Suite struct WriteModelTests {
    /// The repository the mount starts from.
    static let fixture: FixtureTree = {
        var generator = SeededBytes(seed: 99)
        return FixtureTree([
            "README.md": .text("# demo\n"),
            "src/main.swift": .file(generator.text(3_000)),
            "src/util/helpers.swift": .file(generator.text(9_000)),
            "src/util/deep/x.txt": .text("deep\n"),
            "bin/run.sh": .executable(Array("#!/bin/sh\necho hi\n".utf8)),
            "docs/guide.md": .file(generator.text(20_000)),
            "data.bin": .file(generator.bytes(70_000)),
            "link": .symlink("README.md"),
        ])
    }()

    /// Names new entries take: few, so that creations collide and renames replace.
    static let names = ["a", "b", "dir", "x.txt", "run.sh", "README.md", "util", "link", "deep"]

    @Test(arguments: [1, 2, 3, 4, 5, 6] as [UInt64])
    func writesMatchTheModel(seed: UInt64) async throws {
        var run = try await WriteModelRun(seed: seed)
        for step in 1...300 {
            try await run.step(step)
            if step % 40 == 0 {
                try await run.forgetAll("after step \(step)")
            } else if step % 20 == 0 {
                try await run.compareTree("after step \(step)")
            }
            if step % 50 == 0 { try await run.upload("after step \(step)") }
            if step % 100 == 70 { try await run.restart("after step \(step)") }
        }
        try await run.compareTree("at the end")
        try await run.upload("at the end")
        try await run.restart("at the end")
    }
}

/// What the model holds at a path.
enum ModelNode: Equatable, CustomStringConvertible {
    case file([UInt8], executable: Bool)
    case symlink([UInt8])
    case directory

    var description: String {
        switch self {
        case .file(let bytes, let executable): "file(\(bytes.count) bytes\(executable ? ", executable" : ""))"
        case .symlink(let target): "symlink(\(String(decoding: target, as: UTF8.self)))"
        case .directory: "directory"
        }
    }
}

/// The repository as a dictionary: relative path to node; `""` is the repository's root directory.
struct WriteModel: Equatable {
    var nodes: [String: ModelNode] = ["": .directory]

    init(_ tree: FixtureTree) {
        for (path, node) in tree.files {
            switch node {
            case .file(let bytes): nodes[path] = .file(bytes, executable: false)
            case .executable(let bytes): nodes[path] = .file(bytes, executable: true)
            case .symlink(let target): nodes[path] = .symlink(Array(target.utf8))
            }
            var components = path.split(separator: "/").dropLast()
            while !components.isEmpty {
                nodes[components.joined(separator: "/")] = .directory
                components = components.dropLast()
            }
        }
    }

    init(nodes: [String: ModelNode]) { self.nodes = nodes }

    static func join(_ directory: String, _ name: String) -> String {
        directory.isEmpty ? name : directory + "/" + name
    }

    static func parent(of path: String) -> String {
        path.split(separator: "/").dropLast().joined(separator: "/")
    }

    /// Whether `ancestor` is a proper ancestor of `path`.
    static func isAncestor(_ ancestor: String, of path: String) -> Bool {
        ancestor.isEmpty ? !path.isEmpty : path.hasPrefix(ancestor + "/")
    }

    /// The names in a directory, sorted.
    func children(of directory: String) -> [String] {
        nodes.keys.filter { !$0.isEmpty && Self.parent(of: $0) == directory }.map {
            String($0.split(separator: "/").last!)
        }.sorted()
    }

    var directories: [String] { nodes.filter { $0.value == .directory }.keys.sorted() }

    var files: [String] {
        nodes.filter { if case .file = $0.value { true } else { false } }.keys.sorted()
    }

    /// The model as git stores it: no directory without a file or link below it (the root stays).
    var withoutEmptyDirectories: WriteModel {
        var kept: [String: ModelNode] = ["": .directory]
        for (path, node) in nodes where node != .directory {
            kept[path] = node
            var directory = Self.parent(of: path)
            while !directory.isEmpty {
                kept[directory] = .directory
                directory = Self.parent(of: directory)
            }
        }
        return WriteModel(nodes: kept)
    }

    /// Moves `source` and everything below it to `target`.
    mutating func move(_ source: String, to target: String) {
        for (path, node) in nodes where path == source || Self.isAncestor(source, of: path) {
            nodes[path] = nil
            nodes[target + path.dropFirst(source.count)] = node
        }
    }
}

/// The lookup counts this test gave out, as the kernel keeps them, to forget later.
final class LookupLedger: Sendable {
    private let counts = Mutex<[InodeNumber: UInt64]>([:])

    func add(_ inode: InodeNumber) { counts.withLock { $0[inode, default: 0] += 1 } }

    /// Takes every count out of the ledger.
    func takeAll() -> [InodeNumber: UInt64] {
        counts.withLock { counts in
            defer { counts = [:] }
            return counts
        }
    }
}

/// One seeded run: the filesystem (restarted over the same state directory), the model and the generator.
struct WriteModelRun {
    let layout: MountLayout
    let fixture: FixtureRepository
    let source: StoreObjectSource
    let stateDirectory: TemporaryDirectory
    var harness: FSHarness
    var root: InodeNumber
    var model: WriteModel
    var generator: SeededBytes
    /// The model as the last acknowledged upload stored it.
    var uploaded: WriteModel
    /// Successful modifications since the last acknowledged upload.
    var modificationsSinceUpload = 0
    var seed: UInt64
    var step = 0
    /// Lookup counts given out since the last forget (the repository root's are kept: a shell sits in it).
    let ledger = LookupLedger()

    init(seed: UInt64) async throws {
        self.seed = seed
        fixture = try FixtureRepository(WriteModelTests.fixture, time: FSHarness.commitTime)
        source = fixture.localSource()
        layout = try MountLayout([
            MountLayout.Repository(path: FSHarness.repository, revision: .defaultBookmark, source: source)
        ])
        stateDirectory = try TemporaryDirectory(prefix: "mesa-state")
        let fs = try MesaFS(
            layout: layout,
            configuration: FSHarness.configuration(),
            overlay: Overlay(directory: stateDirectory.appending("state"))
        )
        harness = FSHarness(fixture: fixture, fs: fs, source: source, fetcher: nil, cacheDirectory: nil)
        root = try await harness.repositoryRoot()
        model = WriteModel(WriteModelTests.fixture)
        uploaded = model.withoutEmptyDirectories
        generator = SeededBytes(seed: seed)
    }

    var fs: MesaFS { harness.fs }

    // MARK: Choosing

    mutating func below(_ bound: Int) -> Int { Int(generator.next() % UInt64(max(bound, 1))) }

    mutating func chance(_ percent: Int) -> Bool { below(100) < percent }

    mutating func pick<T>(_ values: [T]) -> T { values[below(values.count)] }

    /// A path that exists (any kind but the root).
    mutating func existingPath() -> String? {
        let paths = model.nodes.keys.filter { !$0.isEmpty }.sorted()
        return paths.isEmpty ? nil : pick(paths)
    }

    /// A directory and a name in it (which may exist); now and then a parent that is a file or link.
    mutating func placeForNew() -> (parent: String, name: String) {
        let parents = chance(8) ? model.nodes.keys.filter { !$0.isEmpty }.sorted() : model.directories
        return (pick(parents.isEmpty ? [""] : parents), pick(WriteModelTests.names))
    }

    /// A path that exists most of the time.
    mutating func someVictim() -> String {
        if chance(85), let path = existingPath() { return path }
        let (parent, name) = placeForNew()
        return WriteModel.join(parent, name)
    }

    // MARK: Reaching MesaFS

    /// The inode of a path, looked up component by component from the repository's root as the kernel walks it.
    func inode(_ path: String) async throws(FSError) -> InodeNumber {
        var inode = root
        for component in path.split(separator: "/") {
            inode = try await fs.lookup(parent: inode, name: FileName(String(component))).attributes.inode
            ledger.add(inode)
        }
        return inode
    }

    /// Runs a modification and returns its error, if any.
    func attempt(_ modification: Modification) async -> FSError? {
        do throws(FSError) {
            let result = try await fs.modify(modification)
            switch result {
            case .created(let entry, let opened):
                ledger.add(entry.attributes.inode)
                if !opened.isZeroMessage { fs.release(opened.handle) }
            case .entry(let entry):
                ledger.add(entry.attributes.inode)
            default:
                break
            }
            return nil
        } catch {
            return error
        }
    }

    /// Checks an outcome: `nil` is success; errors compare by case (messages aside).
    func check(_ actual: FSError?, _ expected: FSError?, _ what: String) {
        let got = actual.map { "\($0)" } ?? "success"
        let predicted = expected.map { "\($0)" } ?? "success"
        #expect(Self.same(actual, expected), "seed \(seed) step \(step): \(what): got \(got), model says \(predicted)")
    }

    static func same(_ left: FSError?, _ right: FSError?) -> Bool {
        switch (left, right) {
        case (nil, nil): true
        case (.invalidArgument?, .invalidArgument?): true
        case (let left?, let right?): left == right
        default: false
        }
    }

    // MARK: Steps

    mutating func step(_ number: Int) async throws {
        step = number
        switch below(20) {
        case 0, 1, 2: try await create()
        case 3, 4, 5, 6: try await write()
        case 7, 8: try await truncate()
        case 9, 10, 11, 12: try await rename()
        case 13, 14: try await unlink()
        case 15, 16: try await makeDirectory()
        case 17: try await removeDirectory()
        case 18: try await chmod()
        default: try await symlink()
        }
    }

    /// The error of a new entry at `parent/name`, by the model.
    /// The error of reaching `path`'s parent as a directory: its parent exists (victims are chosen so), but may be
    /// a file or a link, whose lookup or use as a directory is ENOTDIR.
    func parentError(_ path: String) -> FSError? {
        model.nodes[WriteModel.parent(of: path)] == .directory ? nil : .notADirectory
    }

    func creationError(_ parent: String, _ name: String) -> FSError? {
        guard model.nodes[parent] == .directory else { return .notADirectory }
        return model.nodes[WriteModel.join(parent, name)] == nil ? nil : .exists
    }

    mutating func create() async throws {
        let (parent, name) = placeForNew()
        let path = WriteModel.join(parent, name)
        let executable = chance(30)
        let expected = creationError(parent, name)
        let error = await attempt(
            .createFile(
                parent: try await inode(parent),
                name: FileName(name),
                mode: executable ? 0o755 : 0o644,
                flags: OpenFlags(rawValue: O_CREAT | O_EXCL | O_RDWR)
            )
        )
        check(error, expected, "create \(path)")
        guard error == nil, expected == nil else { return }
        model.nodes[path] = .file([], executable: executable)
        modificationsSinceUpload += 1
        try await checkEntry(path)
    }

    mutating func write() async throws {
        let files = model.files
        guard !files.isEmpty else { return }
        let path = pick(files)
        guard case .file(var bytes, let executable) = model.nodes[path] else { return }
        // Within the file, just past its end, or far past it (a hole).
        let offset =
            switch below(3) {
            case 0: below(bytes.count + 1)
            case 1: bytes.count
            default: bytes.count + 1 + below(50_000)
            }
        let data = generator.bytes(1 + (chance(10) ? below(100_000) : below(5_000)))
        let inode = try await inode(path)
        let handle = try fs.open(inode, flags: OpenFlags(rawValue: O_RDWR)).handle
        defer { if handle != .inodeReads { fs.release(handle) } }
        var error: FSError?
        do throws(FSError) {
            let result = try await fs.modify(.write(inode, handle: handle, offset: Int64(offset), bytes: data))
            #expect(result == .written(data.count), "seed \(seed) step \(step): write \(path)")
        } catch let failure {
            error = failure
        }
        check(error, nil, "write \(data.count) bytes at \(offset) of \(path) (\(bytes.count) bytes)")
        guard error == nil else { return }
        if bytes.count < offset + data.count {
            bytes += [UInt8](repeating: 0, count: offset + data.count - bytes.count)
        }
        bytes.replaceSubrange(offset..<(offset + data.count), with: data)
        model.nodes[path] = .file(bytes, executable: executable)
        modificationsSinceUpload += 1
        try await checkEntry(path)
    }

    mutating func truncate() async throws {
        let directory = chance(10)
        let candidates = directory ? model.directories.filter { !$0.isEmpty } : model.files
        guard !candidates.isEmpty else { return }
        let path = pick(candidates)
        let size: Int
        var expected: FSError? = .isADirectory
        if case .file(var bytes, let executable) = model.nodes[path] {
            size = chance(50) ? below(bytes.count + 1) : bytes.count + below(40_000)
            bytes =
                size <= bytes.count
                ? Array(bytes.prefix(size)) : bytes + [UInt8](repeating: 0, count: size - bytes.count)
            expected = nil
            let error = await attempt(
                .setAttributes(try await inode(path), AttributeChanges(size: Int64(size)), handle: nil)
            )
            check(error, expected, "truncate \(path) to \(size)")
            guard error == nil else { return }
            model.nodes[path] = .file(bytes, executable: executable)
            modificationsSinceUpload += 1
            try await checkEntry(path)
        } else {
            let error = await attempt(.setAttributes(try await inode(path), AttributeChanges(size: 0), handle: nil))
            check(error, expected, "truncate directory \(path)")
        }
    }

    mutating func chmod() async throws {
        let files = model.files
        guard !files.isEmpty else { return }
        let path = pick(files)
        guard case .file(let bytes, let executable) = model.nodes[path] else { return }
        let now = chance(50) ? !executable : executable
        let error = await attempt(
            .setAttributes(try await inode(path), AttributeChanges(mode: now ? 0o755 : 0o644), handle: nil)
        )
        check(error, nil, "chmod \(path) \(now ? "+x" : "-x")")
        guard error == nil else { return }
        model.nodes[path] = .file(bytes, executable: now)
        modificationsSinceUpload += 1
        try await checkEntry(path)
    }

    mutating func makeDirectory() async throws {
        let (parent, name) = placeForNew()
        let path = WriteModel.join(parent, name)
        let expected = creationError(parent, name)
        let error = await attempt(.makeDirectory(parent: try await inode(parent), name: FileName(name), mode: 0o755))
        check(error, expected, "mkdir \(path)")
        guard error == nil, expected == nil else { return }
        model.nodes[path] = .directory
        modificationsSinceUpload += 1
        try await checkEntry(path)
    }

    mutating func symlink() async throws {
        let (parent, name) = placeForNew()
        let path = WriteModel.join(parent, name)
        let target = Array(pick(["README.md", "../a", "dir/x.txt", "/etc/hosts", "nowhere"]).utf8)
        let expected = creationError(parent, name)
        let error = await attempt(.makeSymlink(parent: try await inode(parent), name: FileName(name), target: target))
        check(error, expected, "symlink \(path)")
        guard error == nil, expected == nil else { return }
        model.nodes[path] = .symlink(target)
        modificationsSinceUpload += 1
        try await checkEntry(path)
    }

    mutating func unlink() async throws {
        let path = someVictim()
        let expected: FSError? =
            if let error = parentError(path) { error } else {
                switch model.nodes[path] {
                case nil: .notFound
                case .directory: .isADirectory
                default: nil
                }
            }
        let error = await attempt(
            .unlink(parent: try await inode(WriteModel.parent(of: path)), name: FileName(lastComponent(path)))
        )
        check(error, expected, "unlink \(path)")
        guard error == nil, expected == nil else { return }
        model.nodes[path] = nil
        modificationsSinceUpload += 1
        try await checkGone(path)
    }

    mutating func removeDirectory() async throws {
        let path = chance(60) ? pick(model.directories.filter { !$0.isEmpty } + [someVictim()]) : someVictim()
        let expected: FSError? =
            if let error = parentError(path) { error } else {
                switch model.nodes[path] {
                case nil: .notFound
                case .directory: model.children(of: path).isEmpty ? nil : .notEmpty
                default: .notADirectory
                }
            }
        let error = await attempt(
            .removeDirectory(parent: try await inode(WriteModel.parent(of: path)), name: FileName(lastComponent(path)))
        )
        check(error, expected, "rmdir \(path)")
        guard error == nil, expected == nil else { return }
        model.nodes[path] = nil
        modificationsSinceUpload += 1
        try await checkGone(path)
    }

    mutating func rename() async throws {
        let source = someVictim()
        let targetParent = pick(model.directories)
        // Onto an existing entry half the time (replacing it), else a name that may be free.
        let target: String
        if chance(50), let existing = existingPath() {
            target = existing
        } else {
            target = WriteModel.join(targetParent, pick(WriteModel.names(for: source)))
        }
        let noReplace = chance(25)
        let expected = renameError(source, target, noReplace: noReplace)
        let error = await attempt(
            .rename(
                parent: try await inode(WriteModel.parent(of: source)),
                name: FileName(lastComponent(source)),
                newParent: try await inode(WriteModel.parent(of: target)),
                newName: FileName(lastComponent(target)),
                flags: noReplace ? .noReplace : []
            )
        )
        check(error, expected, "rename \(source) to \(target)\(noReplace ? " (RENAME_NOREPLACE)" : "")")
        guard error == nil, expected == nil, source != target else { return }
        model.nodes[target] = nil
        model.move(source, to: target)
        modificationsSinceUpload += 1
        try await checkGone(source)
        try await checkEntry(target)
    }

    /// What `renameat2(2)` answers, in the order Linux checks (fs/namei.c `do_renameat2`, then `vfs_rename`).
    func renameError(_ source: String, _ target: String, noReplace: Bool) -> FSError? {
        if let error = parentError(source) { return error }
        guard let moved = model.nodes[source] else { return .notFound }
        let existing = model.nodes[target]
        if noReplace, existing != nil { return .exists }
        if WriteModel.isAncestor(source, of: target) { return .invalidArgument("into itself") }
        if source == target { return nil }
        guard let existing else { return nil }
        if moved == .directory, existing != .directory { return .notADirectory }
        if moved != .directory, existing == .directory { return .isADirectory }
        if existing == .directory, !model.children(of: target).isEmpty { return .notEmpty }
        return nil
    }

    func lastComponent(_ path: String) -> String { String(path.split(separator: "/").last ?? "") }

    // MARK: Checking

    /// Looks up a path and compares what it shows with the model.
    func checkEntry(_ path: String) async throws {
        let inode = try await inode(path)
        let attributes = try fs.getattr(inode).attributes
        let context = "seed \(seed) step \(step): \(path)"
        switch model.nodes[path] {
        case .file(let bytes, let executable):
            #expect(attributes.kind == .regularFile, "\(context)")
            #expect(attributes.size == Int64(bytes.count), "\(context)")
            #expect((attributes.permissions & 0o100 != 0) == executable, "\(context)")
        case .symlink(let target):
            #expect(attributes.kind == .symbolicLink, "\(context)")
            #expect(attributes.size == Int64(target.count), "\(context)")
        case .directory:
            #expect(attributes.kind == .directory, "\(context)")
        case nil:
            Issue.record("\(context) is not in the model")
        }
    }

    /// Checks that a path no longer resolves.
    func checkGone(_ path: String) async throws {
        guard model.nodes[WriteModel.parent(of: path)] == .directory, model.nodes[path] == nil else { return }
        do throws(FSError) {
            _ = try await inode(path)
            Issue.record("seed \(seed) step \(step): \(path) still resolves")
        } catch {
            guard case .notFound = error else { throw error }
        }
    }

    /// Walks the whole tree (readdir, lookup, getattr, read, readlink) and compares it with the model.
    /// - Returns: the inode number of every path.
    @discardableResult
    func compareTree(_ when: String) async throws -> [String: InodeNumber] {
        let context = "seed \(seed) \(when)"
        var numbers: [String: InodeNumber] = ["": root]
        var pending = [""]
        while let directory = pending.popLast() {
            let inode = numbers[directory]!
            let plus = directory.count % 2 == 0
            let entries = try await harness.list(inode, plus: plus)
            if plus {
                for entry in entries where !entry.name.isDotOrDotDot { ledger.add(entry.attributes.inode) }
            }
            let names = entries.filter { !$0.name.isDotOrDotDot }.map(\.name.string)
            #expect(names.sorted() == model.children(of: directory), "\(context): readdir '\(directory)'")
            for entry in entries where !entry.name.isDotOrDotDot {
                let path = WriteModel.join(directory, entry.name.string)
                let looked = try await fs.lookup(parent: inode, name: entry.name).attributes
                ledger.add(looked.inode)
                #expect(looked.inode == entry.attributes.inode, "\(context): \(path) readdir and lookup")
                #expect(looked == (try fs.getattr(looked.inode).attributes), "\(context): \(path) lookup and getattr")
                numbers[path] = looked.inode
                switch model.nodes[path] {
                case .file(let bytes, let executable):
                    #expect(looked.kind == .regularFile, "\(context): \(path)")
                    #expect(looked.size == Int64(bytes.count), "\(context): \(path) size")
                    #expect((looked.permissions & 0o100 != 0) == executable, "\(context): \(path) exec bit")
                    let read = try await harness.read(looked.inode)
                    #expect(read == bytes, "\(context): \(path) bytes (\(read.count) read, \(bytes.count) expected)")
                case .symlink(let target):
                    #expect(looked.kind == .symbolicLink, "\(context): \(path)")
                    #expect(try await fs.readlink(looked.inode) == target, "\(context): \(path) target")
                case .directory:
                    #expect(looked.kind == .directory, "\(context): \(path)")
                    pending.append(path)
                case nil:
                    Issue.record("\(context): \(path) is not in the model")
                }
            }
        }
        return numbers
    }

    /// The kernel forgets everything this run looked up (children before their directories, removed nodes
    /// first), as under memory pressure or `echo 2 > drop_caches`; then the tree must look the same.
    func forgetAll(_ when: String) async throws {
        let numbers = try await compareTree(when)
        let depth = Dictionary(numbers.map { ($0.value, $0.key.split(separator: "/").count) }) { max($0, $1) }
        let counts = ledger.takeAll().filter { $0.key != root }
        let ordered = counts.sorted {
            (depth[$0.key] ?? .max, $0.key.rawValue) > (depth[$1.key] ?? .max, $1.key.rawValue)
        }
        fs.forget(ordered.map { (inode: $0.key, count: $0.value) })
        // Nothing holds a removed file now: its overlay file is gone, so at most the live files have one.
        let overlayFiles = try FileManager.default.contentsOfDirectory(
            atPath: stateDirectory.appending("state/overlay")
        )
        #expect(
            overlayFiles.count <= model.files.count,
            "seed \(seed) \(when): \(overlayFiles.count) overlay files for \(model.files.count) files"
        )
        try await compareTree("\(when), forgotten")
    }

    /// Builds the pending changes into a commit, acknowledges it, and compares the stored tree with the model.
    mutating func upload(_ when: String) async throws {
        let context = "seed \(seed) \(when)"
        let before = try await compareTree(when)
        guard let upload = fs.pendingUpload(repository: 0) else {
            #expect(
                modificationsSinceUpload == 0,
                "\(context): nothing pending after \(modificationsSinceUpload) changes"
            )
            #expect(model.withoutEmptyDirectories == uploaded, "\(context): nothing pending, yet the tree changed")
            return
        }
        let builder = try UploadBuilder(source: source)
        let committer = Signature(name: "Model", email: "model@example.com", time: FSHarness.commitTime + Int64(step))
        let built = try await builder.build(base: upload.base, root: upload.root, message: nil, committer: committer)
        try fs.acknowledge(
            upload,
            ids: built.ids,
            change: built.upload.change,
            commit: built.upload.commit,
            rootTree: built.upload.rootTree,
            commitTime: committer.time
        )
        let stored = WriteModel(nodes: try storedNodes(built.upload.rootTree))
        try await builder.release(built.upload)
        let expected = model.withoutEmptyDirectories
        #expect(stored == expected, "\(context): stored tree \(Self.difference(stored, expected))")
        #expect(fs.pendingUpload(repository: 0) == nil, "\(context): still pending after the acknowledgement")
        uploaded = expected
        modificationsSinceUpload = 0
        // Inode numbers survive the acknowledgement, and each still shows its content.
        let after = try await compareTree("\(when), acknowledged")
        #expect(after == before, "\(context): inode numbers changed")
        for (path, number) in before {
            let attributes = try fs.getattr(number).attributes
            if case .file(let bytes, _) = model.nodes[path] {
                #expect(attributes.size == Int64(bytes.count), "\(context): \(path) by its old inode")
                #expect(try await harness.read(number) == bytes, "\(context): \(path) by its old inode")
            }
        }
    }

    /// The stored tree as model nodes.
    func storedNodes(_ tree: ObjectID) throws -> [String: ModelNode] {
        let repository = fixture.repository
        var nodes: [String: ModelNode] = ["": .directory]
        var pending: [(String, ObjectID)] = [("", tree)]
        while let (directory, id) = pending.popLast() {
            for entry in try repository.tree(id) {
                let path = WriteModel.join(directory, entry.name)
                switch entry.mode {
                case .regular: nodes[path] = .file(try repository.readBlob(entry.id), executable: false)
                case .executable: nodes[path] = .file(try repository.readBlob(entry.id), executable: true)
                case .symlink: nodes[path] = .symlink(try repository.readBlob(entry.id))
                case .directory:
                    nodes[path] = .directory
                    pending.append((path, entry.id))
                case .submodule: Issue.record("a submodule at \(path)")
                }
            }
        }
        return nodes
    }

    static func difference(_ left: WriteModel, _ right: WriteModel) -> String {
        let paths = Set(left.nodes.keys).union(right.nodes.keys).filter { left.nodes[$0] != right.nodes[$0] }
        return paths.sorted().prefix(10).map {
            "\($0): \(left.nodes[$0].map { "\($0)" } ?? "none") vs \(right.nodes[$0].map { "\($0)" } ?? "none")"
        }.joined(separator: "; ")
    }

    /// Opens a new MesaFS over the same state directory and layout; it must show the model, empty directories
    /// included (they are kept locally).
    mutating func restart(_ when: String) async throws {
        fs.overlay?.close()
        _ = ledger.takeAll()
        let fs = try MesaFS(
            layout: layout,
            configuration: FSHarness.configuration(),
            overlay: Overlay(directory: stateDirectory.appending("state"))
        )
        harness = FSHarness(fixture: fixture, fs: fs, source: source, fetcher: nil, cacheDirectory: nil)
        root = try await harness.repositoryRoot()
        try await compareTree("\(when), restarted")
        #expect(
            (fs.pendingUpload(repository: 0) == nil) == (modificationsSinceUpload == 0),
            "seed \(seed) \(when), restarted: pending changes survive a restart"
        )
    }
}

extension WriteModel {
    /// Names for a rename's target: the source's own name now and then (a move to another directory).
    static func names(for source: String) -> [String] {
        let own = String(source.split(separator: "/").last ?? "")
        return WriteModelTests.names + [own, own]
    }
}
