import MesaCore
import MesaFS
import MesaTesting
import Testing

/// Generated sequences of kernel-like operations applied to MesaFS and to a tiny model of what the kernel holds,
/// compared after every step (mountpoint-s3's reference tests, with a seeded generator instead of a property-based
/// library).
@Suite struct ReferenceModelTests {
    static let files: [String: [UInt8]] = {
        var generator = SeededBytes(seed: 17)
        var files: [String: [UInt8]] = [:]
        for path in ["a.txt", "b/c.txt", "b/d/e.bin", "b/d/f.txt", "g/h.txt", "g/i/j/k.txt", "z.bin"] {
            files[path] = generator.bytes(Int(generator.next() % 300_000))
        }
        return files
    }()

    /// The model: what the kernel holds, by path relative to the repository.
    struct Model {
        var counts: [String: UInt64] = [:]
        var numbers: [String: InodeNumber] = [:]
        var handles: [FileHandleID: String] = [:]

        var directories: [String] {
            var result = Set([""])
            for path in ReferenceModelTests.files.keys {
                var components = path.split(separator: "/").dropLast()
                while !components.isEmpty {
                    result.insert(components.joined(separator: "/"))
                    components = components.dropLast()
                }
            }
            return result.sorted()
        }

        func children(of directory: String) -> [String] {
            let all = Set(directories + Array(ReferenceModelTests.files.keys)).subtracting([""])
            return all.filter { path in
                let parent = path.split(separator: "/").dropLast().joined(separator: "/")
                return parent == directory
            }.sorted()
        }

        /// Paths held whose descendants are all forgotten (the kernel forgets children before parents).
        var forgettable: [String] {
            counts.filter { $0.value > 0 && $0.key != "" }.keys.filter { path in
                !counts.contains { $0.value > 0 && $0.key.hasPrefix(path + "/") }
            }.sorted()
        }
    }

    @Test(arguments: [1, 2, 3] as [UInt64])
    func mesaFSMatchesTheModel(seed: UInt64) async throws {
        var tree = FixtureTree()
        for (path, bytes) in Self.files { tree[path] = .file(bytes) }
        let harness = try FSHarness.local(tree)
        let fs = harness.fs
        let repository = try await harness.repositoryRoot()
        var model = Model()
        model.numbers[""] = repository
        model.counts[""] = 1
        var generator = SeededBytes(seed: seed)

        func path(_ components: String) -> String { components.isEmpty ? "acme/demo" : "acme/demo/" + components }

        for _ in 0..<250 {
            switch generator.next() % 7 {
            case 0, 1:
                // lookup of a random path, component by component as the kernel walks it.
                let all = Array(Set(model.directories + Array(Self.files.keys)).subtracting([""])).sorted()
                let target = all[Int(generator.next() % UInt64(all.count))]
                var walked = ""
                var parent = repository
                for component in target.split(separator: "/") {
                    walked = walked.isEmpty ? String(component) : walked + "/" + component
                    let entry = try await fs.lookup(parent: parent, name: FileName(String(component)))
                    if let known = model.numbers[walked] { #expect(entry.attributes.inode == known) }
                    model.numbers[walked] = entry.attributes.inode
                    model.counts[walked, default: 0] += 1
                    parent = entry.attributes.inode
                    if let bytes = Self.files[walked] { #expect(entry.attributes.size == Int64(bytes.count)) }
                }
            case 2:
                let candidates = model.forgettable
                guard !candidates.isEmpty else { continue }
                let victim = candidates[Int(generator.next() % UInt64(candidates.count))]
                let count = model.counts[victim] ?? 0
                let amount = 1 + generator.next() % count
                fs.forget(try #require(model.numbers[victim]), count: amount)
                model.counts[victim] = count - amount
            case 3:
                // readdirplus of a held directory: every entry that fits is counted.
                let held = model.directories.filter { (model.counts[$0] ?? 0) > 0 }
                guard !held.isEmpty else { continue }
                let directory = held[Int(generator.next() % UInt64(held.count))]
                let limit = 2 + Int(generator.next() % 4)
                let inode = try #require(model.numbers[directory])
                let handle = try fs.opendir(inode).handle
                var seen: [DirectoryEntry] = []
                try await fs.readdir(handle, offset: 0, plus: true) { entry in
                    guard seen.count < limit else { return false }
                    seen.append(entry)
                    return true
                }
                fs.releasedir(handle)
                for entry in seen where !entry.name.isDotOrDotDot {
                    let child = directory.isEmpty ? entry.name.string : directory + "/" + entry.name.string
                    if let known = model.numbers[child] { #expect(entry.attributes.inode == known) }
                    model.numbers[child] = entry.attributes.inode
                    model.counts[child, default: 0] += 1
                }
            case 4:
                let held = Self.files.keys.filter { (model.counts[$0] ?? 0) > 0 }.sorted()
                guard !held.isEmpty else { continue }
                let file = held[Int(generator.next() % UInt64(held.count))]
                let handle = try fs.open(try #require(model.numbers[file]), flags: .readOnly).handle
                model.handles[handle] = file
            case 5:
                guard let (handle, file) = model.handles.sorted(by: { $0.key.rawValue < $1.key.rawValue }).first(
                    where: { _ in generator.next() % 2 == 0 }) ?? model.handles.first
                else { continue }
                let bytes = try #require(Self.files[file])
                let offset = Int(generator.next() % UInt64(bytes.count + 1))
                let size = Int(generator.next() % 200_000)
                let data = try await fs.read(handle, offset: Int64(offset), size: size)
                #expect(data.joined == Array(bytes[offset..<min(bytes.count, offset + size)]))
            default:
                guard let handle = model.handles.keys.sorted(by: { $0.rawValue < $1.rawValue }).first else { continue }
                fs.release(handle)
                model.handles[handle] = nil
            }
            // Compare: every path the model knows is loaded exactly when held, with the model's count.
            for (known, number) in model.numbers where !known.isEmpty {
                let count = model.counts[known] ?? 0
                let open = model.handles.values.contains(known)
                #expect(fs.lookupCount(of: number) == (count > 0 || open ? count : nil), "\(path(known))")
            }
            #expect(fs.statistics().openHandles == model.handles.count)
        }
    }
}
