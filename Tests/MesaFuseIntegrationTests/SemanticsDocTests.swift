import Foundation
import MesaCore
import MesaFS
import MesaFuse
import MesaTesting
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Checks claims of docs/Semantics.md (the rows marked ✓) through a real mount.
@Suite(.tags(.fuse), .enabled(if: FuseTestEnvironment.isAvailable), .serialized, .timeLimit(.minutes(2)))
struct SemanticsDocTests {
    @Test func attributesAreAsDocumented() async throws {
        try await withTestMount(Fixtures.tree) { mount in
            let root = mount.repositoryPath
            #expect(try await mount.run("ls", mount.path).output == "acme\n")
            #expect(try await mount.run("ls", mount.path + "/acme").output == "demo\n")
            let stat = try await mount.run(
                "stat", "-c", "%n %a %h %s %Y", "README.md", "bin/tool.sh", "links/to-readme", "data", in: root)
            let readmeSize = "# Demo\nneedle in a haystack\n".utf8.count
            let time = Fixtures.commitTime
            #expect(
                stat.output.split(separator: "\n") == [
                    "README.md 644 1 \(readmeSize) \(time)", "bin/tool.sh 755 1 20 \(time)",
                    "links/to-readme 777 1 12 \(time)", "data 755 1 4096 \(time)",
                ])
            let filesystem = try await mount.run("stat", "-f", "-c", "%l %b %a", root)
            #expect(filesystem.output == "255 0 0\n")
        }
    }

    @Test func extendedAttributesAreAsDocumented() async throws {
        try await withTestMount(Fixtures.tree) { mount in
            let path = mount.repositoryPath + "/README.md"
            let (get, list, set, remove) = try await mount.blocking { () -> (Int32, Int, Int32, Int32) in
                let calls = try XattrCalls()
                let getResult = calls.get(path, "user.mesa", nil, 0)
                let getError = getResult < 0 ? errno : 0
                let listed = calls.list(path, nil, 0)
                let setResult = calls.set(path, "user.mesa", "v", 1, 0)
                let setError = setResult < 0 ? errno : 0
                let removeResult = calls.remove(path, "user.mesa")
                let removeError = removeResult < 0 ? errno : 0
                return (getError, listed, setError, removeError)
            }
            // ENOSYS from MesaFS, after which the kernel answers EOPNOTSUPP itself and never asks again.
            #expect(get == EOPNOTSUPP)
            #expect(list == 0)
            // This mount is read-only (`ro`, no state directory): the kernel refuses changes itself.
            #expect(set == EROFS)
            #expect(remove == EROFS)
        }
    }

    @Test func aRemovedFileKeepsServingItsHolderWithNoLinks() async throws {
        try await withTestMount(Fixtures.tree) { mount in
            let path = mount.repositoryPath + "/README.md"
            let descriptor = try await mount.blocking { open(path, O_RDONLY) }
            #expect(descriptor >= 0)
            try mount.fixture.evolve(deleting: ["README.md"], time: Fixtures.commitTime + 10)
            try await mount.pullRemoteChanges()
            let (links, bytes) = try await mount.blocking { () -> (UInt, [UInt8]) in
                defer { close(descriptor) }
                var status = stat()
                _ = fstat(descriptor, &status)
                var buffer = [UInt8](repeating: 0, count: 64)
                let count = pread(descriptor, &buffer, buffer.count, 0)
                return (status.st_nlink, Array(buffer.prefix(max(0, count))))
            }
            #expect(links == 0)
            #expect(bytes == Array("# Demo\nneedle in a haystack\n".utf8))
            #expect(try await mount.run("ls", path).status != 0)
        }
    }
}

/// glibc's xattr calls, which Swift's Glibc module does not export (sys/xattr.h is not in its module map), looked up
/// with `dlsym` so the test needs no C shim of its own.
struct XattrCalls {
    typealias Get = @convention(c) (UnsafePointer<CChar>, UnsafePointer<CChar>, UnsafeMutableRawPointer?, Int) -> Int
    typealias List = @convention(c) (UnsafePointer<CChar>, UnsafeMutablePointer<CChar>?, Int) -> Int
    typealias Set = @convention(c) (UnsafePointer<CChar>, UnsafePointer<CChar>, UnsafeRawPointer?, Int, Int32) -> Int32
    typealias Remove = @convention(c) (UnsafePointer<CChar>, UnsafePointer<CChar>) -> Int32

    let get: Get
    let list: List
    let set: Set
    let remove: Remove

    struct Missing: Error {}

    init() throws {
        guard let get = dlsym(nil, "getxattr"), let list = dlsym(nil, "listxattr"), let set = dlsym(nil, "setxattr"),
            let remove = dlsym(nil, "removexattr")
        else { throw Missing() }
        // SAFETY: the types match the glibc prototypes of sys/xattr.h (ssize_t is Int, size_t Int, int Int32).
        self.get = unsafeBitCast(get, to: Get.self)
        self.list = unsafeBitCast(list, to: List.self)
        self.set = unsafeBitCast(set, to: Set.self)
        self.remove = unsafeBitCast(remove, to: Remove.self)
    }
}
