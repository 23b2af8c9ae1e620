import Foundation
import MesaCore
import MesaFS
import MesaFuse
import MesaTesting
import Testing

#if canImport(Glibc)
import Glibc
#endif

// The POSIX behaviour of a writable mount, one operation or errno per test, through raw system calls (issue 9,
// "Tests"). Every call runs on a thread of its own (`mount.blocking`) and its errno is read on the next line;
// docs/Semantics.md states what these tests show. EXDEV (a rename between two repositories) is not here: a test mount
// shows one repository (`withTestMount`), so no rename can name two.

/// File content and attributes: create, write, read, truncate, append, chmod, utimes, chown, fsync, fallocate, mmap,
/// statfs, unlink, inode numbers.
@Suite(.tags(.fuse), .enabled(if: FuseTestEnvironment.isAvailable), .serialized, .timeLimit(.minutes(2)))
struct PosixWriteTests {
    static let readme = "# Demo\nneedle in a haystack\n"

    @Test func createWithExclusiveRefusesAnExistingName() async throws {
        try await withTestMount(Fixtures.tree, writable: true) { mount in
            let new = mount.repositoryPath + "/new.txt"
            let clean = mount.repositoryPath + "/README.md"
            let (first, second, existing) = try await mount.blocking { () -> (Int32, Int32, Int32) in
                let descriptor = open(new, O_CREAT | O_EXCL | O_WRONLY, 0o644)
                let first = failure(descriptor)
                if descriptor >= 0 { close(descriptor) }
                return (
                    first, failure(open(new, O_CREAT | O_EXCL | O_WRONLY, 0o644)),
                    failure(open(clean, O_CREAT | O_EXCL | O_WRONLY, 0o644))
                )
            }
            #expect(first == 0)
            #expect(second == EEXIST)
            #expect(existing == EEXIST)
            let status = try await mount.blocking { try fileStatus(new) }
            #expect(status.st_mode == S_IFREG | 0o644)
            #expect(status.st_size == 0)
        }
    }

    @Test func writeAndPwriteReadBackThroughReadAndPread() async throws {
        try await withTestMount(Fixtures.tree, writable: true) { mount in
            let path = mount.repositoryPath + "/new.txt"
            let (whole, middle) = try await mount.blocking { () -> ([UInt8], [UInt8]) in
                let descriptor = open(path, O_CREAT | O_RDWR, 0o644)
                try #require(descriptor >= 0)
                defer { close(descriptor) }
                try #require(write(descriptor, Array("hello world".utf8), 11) == 11)
                try #require(pwrite(descriptor, Array("WORLD".utf8), 5, 6) == 5)
                var buffer = [UInt8](repeating: 0, count: 64)
                let count = pread(descriptor, &buffer, 64, 0)
                var middle = [UInt8](repeating: 0, count: 3)
                try #require(lseek(descriptor, 4, SEEK_SET) == 4)
                let read = Glibc.read(descriptor, &middle, 3)
                try #require(read == 3)
                return (Array(buffer.prefix(max(count, 0))), middle)
            }
            #expect(whole == Array("hello WORLD".utf8))
            #expect(middle == Array("o W".utf8))
            #expect(try await mount.run("cat", path).output == "hello WORLD")
        }
    }

    @Test func openWithTruncateEmptiesACleanFile() async throws {
        try await withTestMount(Fixtures.tree, writable: true) { mount in
            let path = mount.repositoryPath + "/README.md"
            let size = try await mount.blocking { () -> Int in
                let descriptor = open(path, O_WRONLY | O_TRUNC)
                try #require(descriptor >= 0)
                defer { close(descriptor) }
                var status = stat()
                try #require(fstat(descriptor, &status) == 0)
                return status.st_size
            }
            #expect(size == 0)
            #expect(try await mount.blocking { try fileStatus(path) }.st_size == 0)
            let cat = try await mount.run("cat", path)
            #expect(cat.status == 0)
            #expect(cat.output == "")
            // Later opens reach MesaFS no more (zero-message opens): the kernel's truncation must still arrive, for
            // clean files and for local ones.
            let new = mount.repositoryPath + "/new.txt"
            let sizes = try await mount.blocking { () -> [Int] in
                let descriptor = open(new, O_CREAT | O_WRONLY, 0o644)
                try #require(descriptor >= 0)
                try #require(write(descriptor, Array("bytes".utf8), 5) == 5)
                close(descriptor)
                return try [mount.repositoryPath + "/bin/plain.txt", new].map { path in
                    let descriptor = open(path, O_WRONLY | O_TRUNC)
                    try #require(descriptor >= 0)
                    close(descriptor)
                    return try fileStatus(path).st_size
                }
            }
            #expect(sizes == [0, 0])
            #expect(try await mount.run("cat", "bin/plain.txt", "new.txt", in: mount.repositoryPath).output == "")
        }
    }

    @Test func appendWritesAtTheEnd() async throws {
        try await withTestMount(Fixtures.tree, writable: true) { mount in
            let path = mount.repositoryPath + "/README.md"
            try await mount.blocking {
                let descriptor = open(path, O_WRONLY | O_APPEND)
                try #require(descriptor >= 0)
                defer { close(descriptor) }
                try #require(lseek(descriptor, 0, SEEK_SET) == 0)
                try #require(write(descriptor, Array("one\n".utf8), 4) == 4)
                try #require(write(descriptor, Array("two\n".utf8), 4) == 4)
            }
            #expect(try await mount.run("cat", path).output == Self.readme + "one\ntwo\n")
        }
    }

    @Test func ftruncateShrinksAndTruncateExtendsWithZeros() async throws {
        try await withTestMount(Fixtures.tree, writable: true) { mount in
            let path = mount.repositoryPath + "/README.md"
            let (shrink, extend) = try await mount.blocking { () -> (Int32, Int32) in
                let descriptor = open(path, O_WRONLY)
                try #require(descriptor >= 0)
                defer { close(descriptor) }
                return (failure(ftruncate(descriptor, 4)), failure(truncate(path, 10)))
            }
            #expect(shrink == 0)
            #expect(extend == 0)
            #expect(try await mount.blocking { try fileStatus(path) }.st_size == 10)
            let bytes = try await mount.blocking { try Array(Data(contentsOf: URL(fileURLWithPath: path))) }
            #expect(bytes == Array("# De".utf8) + [UInt8](repeating: 0, count: 6))
        }
    }

    @Test func chmodSetsAndClearsTheExecutableBit() async throws {
        try await withTestMount(Fixtures.tree, writable: true) { mount in
            let root = mount.repositoryPath
            let script = root + "/run.sh"
            let results = try await mount.blocking { () -> [Int32] in
                let descriptor = open(script, O_CREAT | O_WRONLY, 0o644)
                try #require(descriptor >= 0)
                defer { close(descriptor) }
                let text = Array("#!/bin/sh\necho ran\n".utf8)
                try #require(write(descriptor, text, text.count) == text.count)
                return [
                    failure(fchmod(descriptor, 0o755)), failure(chmod(root + "/bin/plain.txt", 0o755)),
                    failure(chmod(root + "/bin/tool.sh", 0o644)),
                ]
            }
            #expect(results == [0, 0, 0])
            let modes = try await mount.blocking {
                try [script, root + "/bin/plain.txt", root + "/bin/tool.sh"].map { try fileStatus($0).st_mode }
            }
            #expect(modes == [S_IFREG | 0o755, S_IFREG | 0o755, S_IFREG | 0o644])
            #expect(try await mount.run([script]).output == "ran\n")
            #expect(try await mount.run([root + "/bin/tool.sh"]).status != 0)
            #expect(
                try await mount.run("stat", "-c", "%a", "bin/plain.txt", "bin/tool.sh", in: root).output == "755\n644\n"
            )
        }
    }

    @Test func utimensatKeepsNanoseconds() async throws {
        try await withTestMount(Fixtures.tree, writable: true) { mount in
            let clean = mount.repositoryPath + "/README.md"
            let new = mount.repositoryPath + "/new.txt"
            let access = timespec(tv_sec: 1_600_000_000, tv_nsec: 123_456_789)
            let modification = timespec(tv_sec: 1_650_000_000, tv_nsec: 987_654_321)
            let statuses = try await mount.blocking { () -> [stat] in
                let descriptor = open(new, O_CREAT | O_WRONLY, 0o644)
                try #require(descriptor >= 0)
                close(descriptor)
                let times = [access, modification]
                try #require(utimensat(AT_FDCWD, clean, times, 0) == 0)
                try #require(utimensat(AT_FDCWD, new, times, 0) == 0)
                return [try fileStatus(clean), try fileStatus(new)]
            }
            for status in statuses {
                #expect(status.st_mtim.tv_sec == modification.tv_sec)
                #expect(status.st_mtim.tv_nsec == modification.tv_nsec)
                #expect(status.st_atim.tv_sec == access.tv_sec)
                #expect(status.st_atim.tv_nsec == access.tv_nsec)
            }
            #expect(try await mount.run("stat", "-c", "%.9Y", clean).output == "1650000000.987654321\n")
            #expect(try await mount.run("cat", clean).output == Self.readme)
        }
    }

    @Test func chownToAnotherOwnerIsRefused() async throws {
        try await withTestMount(Fixtures.tree, writable: true) { mount in
            let path = mount.repositoryPath + "/README.md"
            let (other, otherGroup, same) = try await mount.blocking { () -> (Int32, Int32, Int32) in
                let status = try fileStatus(path)
                return (
                    failure(chown(path, status.st_uid + 1000, status.st_gid)),
                    failure(chown(path, status.st_uid, status.st_gid + 1000)),
                    failure(chown(path, status.st_uid, status.st_gid))
                )
            }
            #expect(other == EPERM)
            #expect(otherGroup == EPERM)
            #expect(same == 0)
        }
    }

    @Test func unlinkRemovesCleanAndNewFiles() async throws {
        try await withTestMount(Fixtures.tree, writable: true) { mount in
            let root = mount.repositoryPath
            let results = try await mount.blocking { () -> [Int32] in
                let descriptor = open(root + "/new.txt", O_CREAT | O_WRONLY, 0o644)
                try #require(descriptor >= 0)
                close(descriptor)
                return [
                    failure(unlink(root + "/README.md")), failure(unlink(root + "/new.txt")),
                    failure(unlink(root + "/links/dangling")), failure(unlink(root + "/README.md")),
                    failure(unlink(root + "/bin")),
                ]
            }
            #expect(results == [0, 0, 0, ENOENT, EISDIR])
            #expect(try await mount.run("ls", "-A", in: root).output.contains("README.md") == false)
            #expect(try await mount.run("ls", "links", in: root).output == "absolute\nto-readme\n")
        }
    }

    @Test func fsyncAndFdatasyncSucceed() async throws {
        try await withTestMount(Fixtures.tree, writable: true) { mount in
            let root = mount.repositoryPath
            let results = try await mount.blocking { () -> [Int32] in
                let new = open(root + "/new.txt", O_CREAT | O_RDWR, 0o644)
                try #require(new >= 0)
                defer { close(new) }
                try #require(write(new, [1, 2, 3], 3) == 3)
                let clean = open(root + "/bin/plain.txt", O_RDONLY)
                try #require(clean >= 0)
                defer { close(clean) }
                let directory = open(root + "/src", O_RDONLY | O_DIRECTORY)
                try #require(directory >= 0)
                defer { close(directory) }
                return [
                    failure(fsync(new)), failure(fdatasync(new)), failure(fsync(clean)),
                    failure(fdatasync(clean)), failure(fsync(directory)),
                ]
            }
            #expect(results == [0, 0, 0, 0, 0])
        }
    }

    @Test func fallocateExtendsAndPunchingAHoleIsNotSupported() async throws {
        try await withTestMount(Fixtures.tree, writable: true) { mount in
            let path = mount.repositoryPath + "/README.md"
            let size = Int(Self.readme.utf8.count)
            let (extend, punch, sizeAfter) = try await mount.blocking { () -> (Int32, Int32, Int) in
                let descriptor = open(path, O_RDWR)
                try #require(descriptor >= 0)
                defer { close(descriptor) }
                let extend = failure(LinuxCalls.fallocate(descriptor, 0, 0, 100))
                let punch = failure(
                    LinuxCalls.fallocate(
                        descriptor,
                        LinuxCalls.fallocatePunchHole | LinuxCalls.fallocateKeepSize,
                        0,
                        4
                    )
                )
                var status = stat()
                try #require(fstat(descriptor, &status) == 0)
                return (extend, punch, status.st_size)
            }
            #expect(extend == 0)
            #expect(punch == EOPNOTSUPP)
            #expect(sizeAfter == 100)
            let bytes = try await mount.blocking { try Array(Data(contentsOf: URL(fileURLWithPath: path))) }
            #expect(bytes == Array(Self.readme.utf8) + [UInt8](repeating: 0, count: 100 - size))
        }
    }

    @Test func sharedMappingWritesReachTheFile() async throws {
        try await withTestMount(Fixtures.tree, writable: true) { mount in
            let path = mount.repositoryPath + "/README.md"
            let inode = try await mount.blocking { () -> UInt64 in
                let descriptor = open(path, O_RDWR)
                try #require(descriptor >= 0)
                defer { close(descriptor) }
                let length = Self.readme.utf8.count
                let map: UnsafeMutableRawPointer? = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_SHARED, descriptor, 0)
                guard let mapped = map, mapped != UnsafeMutableRawPointer(bitPattern: -1) else {
                    throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
                }
                for (index, byte) in "MAPPED".utf8.enumerated() {
                    mapped.storeBytes(of: byte, toByteOffset: 2 + index, as: UInt8.self)
                }
                try #require(msync(mapped, length, MS_SYNC) == 0)
                try #require(munmap(mapped, length) == 0)
                var status = stat()
                try #require(fstat(descriptor, &status) == 0)
                return UInt64(status.st_ino)
            }
            let expected = "# MAPPEDeedle in a haystack\n"
            #expect(try await mount.run("cat", path).output == expected)
            // Not only the kernel's page cache: MesaFS itself has the bytes.
            let stored = try await mount.fs.read(inode: InodeNumber(inode), offset: 0, size: 4096).joined
            #expect(stored == Array(expected.utf8))
        }
    }

    @Test func statfsReportsTheStateDirectorysFreeSpace() async throws {
        try await withTestMount(Fixtures.tree, writable: true) { mount in
            let path = mount.repositoryPath
            let status = try await mount.blocking { () -> statvfs in
                var status = statvfs()
                try #require(statvfs(path, &status) == 0)
                return status
            }
            #expect(status.f_bsize > 0)
            #expect(status.f_blocks > 0)
            #expect(status.f_bfree > 0)
            #expect(status.f_bavail > 0)
            #expect(status.f_namemax == 255)
        }
    }

    @Test func writesReadBackAtOnceInAnotherProcess() async throws {
        try await withTestMount(Fixtures.tree, writable: true) { mount in
            let path = mount.repositoryPath + "/bin/plain.txt"
            let descriptor = try await mount.blocking { open(path, O_WRONLY) }
            try #require(descriptor >= 0)
            for round in 0..<3 {
                let text = Array("round \(round)\n".utf8)
                let written = try await mount.blocking { pwrite(descriptor, text, text.count, 0) }
                #expect(written == text.count)
                #expect(try await mount.run("cat", path).output == "round \(round)\nutable\n")
            }
            let new = mount.repositoryPath + "/fresh.txt"
            let created = try await mount.blocking { open(new, O_CREAT | O_WRONLY, 0o644) }
            try #require(created >= 0)
            let written = try await mount.blocking { write(created, Array("fresh\n".utf8), 6) }
            #expect(written == 6)
            #expect(try await mount.run("cat", new).output == "fresh\n")
            _ = try await mount.blocking { (close(descriptor), close(created)) }
        }
    }

    @Test func inodeNumbersSurviveWritesAndRenames() async throws {
        try await withTestMount(Fixtures.tree, writable: true) { mount in
            let root = mount.repositoryPath
            let numbers = try await mount.blocking { () -> [UInt] in
                let before = try fileStatus(root + "/README.md").st_ino
                let descriptor = open(root + "/README.md", O_WRONLY)
                try #require(descriptor >= 0)
                try #require(pwrite(descriptor, Array("#!".utf8), 2, 0) == 2)
                close(descriptor)
                let written = try fileStatus(root + "/README.md").st_ino
                try #require(rename(root + "/README.md", root + "/docs/moved.md") == 0)
                let renamed = try fileStatus(root + "/docs/moved.md").st_ino
                let directory = try fileStatus(root + "/src/module1").st_ino
                try #require(rename(root + "/src/module1", root + "/moved") == 0)
                let movedDirectory = try fileStatus(root + "/moved").st_ino
                return [before, written, renamed, directory, movedDirectory]
            }
            #expect(numbers[0] == numbers[1])
            #expect(numbers[0] == numbers[2])
            #expect(numbers[3] == numbers[4])
            let listed = try await mount.run("ls", "-i", "docs/moved.md", in: root).output
            #expect(listed.hasPrefix("\(numbers[0]) "))
        }
    }

    @Test func aCleanFileEditedInPlaceKeepsItsOtherBytes() async throws {
        try await withTestMount(Fixtures.tree, writable: true) { mount in
            let path = mount.repositoryPath + "/data/large.bin"
            let offset = 3_000_001
            let patch: [UInt8] = [0xDE, 0xAD, 0xBE, 0xEF]
            let bytes = try await mount.blocking { () -> [UInt8] in
                let descriptor = open(path, O_WRONLY)
                try #require(descriptor >= 0)
                try #require(pwrite(descriptor, patch, patch.count, off_t(offset)) == patch.count)
                close(descriptor)
                return try Array(Data(contentsOf: URL(fileURLWithPath: path)))
            }
            var expected = Fixtures.large
            expected.replaceSubrange(offset..<(offset + patch.count), with: patch)
            #expect(bytes.count == Fixtures.large.count)
            #expect(bytes == expected)
        }
    }

    @Test func extendedAttributesCannotBeSet() async throws {
        try await withTestMount(Fixtures.tree, writable: true) { mount in
            let clean = mount.repositoryPath + "/README.md"
            let directory = mount.repositoryPath + "/src"
            let results = try await mount.blocking { () -> [Int32] in
                let calls = try XattrCalls()
                return [
                    failure(calls.set(clean, "user.mesa", "v", 1, 0)),
                    failure(calls.set(directory, "user.mesa", "v", 1, 0)),
                    failure(calls.remove(clean, "user.mesa")), failure(calls.get(clean, "user.mesa", nil, 0)),
                    failure(calls.list(clean, nil, 0)),
                ]
            }
            #expect(results == [ENOTSUP, ENOTSUP, ENODATA, EOPNOTSUPP, 0])
        }
    }
}

/// Names, directories and links: mkdir, rmdir, rename in every form, symlink, link, mknod, long and illegal names.
@Suite(.tags(.fuse), .enabled(if: FuseTestEnvironment.isAvailable), .serialized, .timeLimit(.minutes(2)))
struct PosixNamespaceTests {
    @Test func mkdirAndRmdir() async throws {
        try await withTestMount(Fixtures.tree, writable: true) { mount in
            let root = mount.repositoryPath
            let results = try await mount.blocking { () -> [Int32] in
                [
                    failure(mkdir(root + "/made", 0o755)), failure(mkdir(root + "/made/inner", 0o700)),
                    failure(mkdir(root + "/made", 0o755)), failure(mkdir(root + "/bin", 0o755)),
                    failure(mkdir(root + "/README.md/x", 0o755)),
                ]
            }
            #expect(results == [0, 0, EEXIST, EEXIST, ENOTDIR])
            let modes = try await mount.blocking {
                try [root + "/made", root + "/made/inner"].map { try fileStatus($0).st_mode }
            }
            #expect(modes == [S_IFDIR | 0o755, S_IFDIR | 0o700])
            #expect(try await mount.run("ls", "made", in: root).output == "inner\n")
            let removals = try await mount.blocking { () -> [Int32] in
                [
                    failure(rmdir(root + "/made")), failure(rmdir(root + "/bin")), failure(rmdir(root + "/a")),
                    failure(rmdir(root + "/README.md")), failure(rmdir(root + "/made/inner")),
                    failure(rmdir(root + "/made")), failure(rmdir(root + "/made")),
                ]
            }
            #expect(removals == [ENOTEMPTY, ENOTEMPTY, ENOTEMPTY, ENOTDIR, 0, 0, ENOENT])
            #expect(try await mount.run("ls", "-d", "made", in: root).status != 0)
        }
    }

    @Test func renameReplacesAFile() async throws {
        try await withTestMount(Fixtures.tree, writable: true) { mount in
            let root = mount.repositoryPath
            let result = try await mount.blocking { failure(rename(root + "/bin/plain.txt", root + "/README.md")) }
            #expect(result == 0)
            #expect(try await mount.run("cat", "README.md", in: root).output == "not executable\n")
            #expect(try await mount.run("ls", "bin", in: root).output == "tool.sh\n")
        }
    }

    @Test func renameReplacesAnEmptyDirectory() async throws {
        try await withTestMount(Fixtures.tree, writable: true) { mount in
            let root = mount.repositoryPath
            let results = try await mount.blocking { () -> [Int32] in
                [
                    failure(mkdir(root + "/empty", 0o755)), failure(rename(root + "/src/module0", root + "/empty")),
                    failure(mkdir(root + "/other", 0o755)), failure(rename(root + "/other", root + "/empty")),
                ]
            }
            #expect(results == [0, 0, 0, ENOTEMPTY])
            #expect(try await mount.run("ls", "src", in: root).output == "module1\nmodule2\n")
            let listed = try await mount.run("sh", "-c", "ls empty | wc -l", in: root).output
            #expect(listed.trimmingCharacters(in: .whitespacesAndNewlines) == "10")
        }
    }

    @Test func renameOntoANonEmptyDirectoryIsRefused() async throws {
        try await withTestMount(Fixtures.tree, writable: true) { mount in
            let root = mount.repositoryPath
            let results = try await mount.blocking { () -> [Int32] in
                [
                    failure(rename(root + "/src/module0", root + "/src/module1")),
                    failure(mkdir(root + "/full", 0o755)), failure(mkdir(root + "/full/inside", 0o755)),
                    failure(rename(root + "/bin", root + "/full")),
                ]
            }
            #expect(results == [ENOTEMPTY, 0, 0, ENOTEMPTY])
            #expect(try await mount.run("ls", "src", in: root).output == "module0\nmodule1\nmodule2\n")
        }
    }

    @Test func renameBetweenFilesAndDirectoriesIsRefused() async throws {
        try await withTestMount(Fixtures.tree, writable: true) { mount in
            let root = mount.repositoryPath
            let results = try await mount.blocking { () -> [Int32] in
                [
                    failure(rename(root + "/README.md", root + "/bin")),
                    failure(rename(root + "/bin", root + "/README.md")),
                    failure(mkdir(root + "/empty", 0o755)),
                    failure(rename(root + "/README.md", root + "/empty")),
                    failure(rename(root + "/empty", root + "/data/empty")),
                ]
            }
            #expect(results == [EISDIR, ENOTDIR, 0, EISDIR, ENOTDIR])
        }
    }

    @Test func renameat2NoReplaceAndExchange() async throws {
        try await withTestMount(Fixtures.tree, writable: true) { mount in
            let root = mount.repositoryPath
            let results = try await mount.blocking { () -> [Int32] in
                [
                    failure(LinuxCalls.renameat2(root + "/README.md", root + "/bin/plain.txt", LinuxCalls.noReplace)),
                    failure(LinuxCalls.renameat2(root + "/README.md", root + "/bin/tool.sh", LinuxCalls.exchange)),
                    failure(LinuxCalls.renameat2(root + "/README.md", root + "/free.md", LinuxCalls.noReplace)),
                ]
            }
            #expect(results == [EEXIST, EINVAL, 0])
            #expect(
                try await mount.run("cat", "bin/plain.txt", "free.md", in: root).output == "not executable\n"
                    + PosixWriteTests.readme
            )
            #expect(try await mount.run("cat", "bin/tool.sh", in: root).output == "#!/bin/sh\necho tool\n")
        }
    }

    @Test func renameIntoItsOwnSubdirectoryIsRefused() async throws {
        try await withTestMount(Fixtures.tree, writable: true) { mount in
            let root = mount.repositoryPath
            let results = try await mount.blocking { () -> [Int32] in
                [
                    failure(rename(root + "/a/b", root + "/a/b/c/moved")),
                    failure(mkdir(root + "/made", 0o755)), failure(mkdir(root + "/made/inner", 0o755)),
                    failure(rename(root + "/made", root + "/made/inner/again")),
                ]
            }
            #expect(results == [EINVAL, 0, 0, EINVAL])
            #expect(try await mount.run("cat", "a/b/c/d/e/f/deep.txt", in: root).output == "deep needle\n")
        }
    }

    @Test func symlinkAndReadlink() async throws {
        try await withTestMount(Fixtures.tree, writable: true) { mount in
            let root = mount.repositoryPath
            let (created, exists, target, status) = try await mount.blocking { () -> (Int32, Int32, String, stat) in
                let created = failure(symlink("bin/tool.sh", root + "/tool"))
                let exists = failure(symlink("elsewhere", root + "/tool"))
                var buffer = [CChar](repeating: 0, count: 256)
                let count = readlink(root + "/tool", &buffer, buffer.count)
                try #require(count > 0)
                var status = stat()
                try #require(lstat(root + "/tool", &status) == 0)
                let bytes = buffer.prefix(count).map { UInt8(bitPattern: $0) }
                return (created, exists, String(decoding: bytes, as: UTF8.self), status)
            }
            #expect(created == 0)
            #expect(exists == EEXIST)
            #expect(target == "bin/tool.sh")
            #expect(status.st_mode == S_IFLNK | 0o777)
            #expect(status.st_size == 11)
            #expect(try await mount.run("cat", "tool", in: root).output == "#!/bin/sh\necho tool\n")
        }
    }

    @Test func hardLinksAreRefused() async throws {
        try await withTestMount(Fixtures.tree, writable: true) { mount in
            let root = mount.repositoryPath
            let results = try await mount.blocking { () -> [Int32] in
                let descriptor = open(root + "/new.txt", O_CREAT | O_WRONLY, 0o644)
                try #require(descriptor >= 0)
                close(descriptor)
                return [
                    failure(link(root + "/README.md", root + "/hard")),
                    failure(link(root + "/new.txt", root + "/hard")),
                ]
            }
            #expect(results == [EPERM, EPERM])
            #expect(try await mount.run("ls", "hard", in: root).status != 0)
        }
    }

    @Test func fifosAreRefusedAndMknodMakesRegularFiles() async throws {
        try await withTestMount(Fixtures.tree, writable: true) { mount in
            let root = mount.repositoryPath
            let results = try await mount.blocking { () -> [Int32] in
                [failure(mkfifo(root + "/fifo", 0o644)), failure(mknod(root + "/plain", S_IFREG | 0o600, 0))]
            }
            #expect(results == [EPERM, 0])
            #expect(
                try await mount.run("stat", "-c", "%F %a %s", "plain", in: root).output == "regular empty file 600 0\n"
            )
            #expect(try await mount.run("ls", "fifo", in: root).status != 0)
        }
    }

    @Test func namesOver255BytesAreTooLong() async throws {
        try await withTestMount(Fixtures.tree, writable: true) { mount in
            let root = mount.repositoryPath
            let long = String(repeating: "a", count: 256)
            let longest = String(repeating: "b", count: 255)
            let results = try await mount.blocking { () -> [Int32] in
                let descriptor = open(root + "/" + longest, O_CREAT | O_WRONLY, 0o644)
                if descriptor >= 0 { close(descriptor) }
                return [
                    failure(open(root + "/" + long, O_CREAT | O_WRONLY, 0o644)),
                    failure(mkdir(root + "/" + long, 0o755)),
                    failure(symlink("x", root + "/" + long)), failure(rename(root + "/README.md", root + "/" + long)),
                    failure(descriptor),
                ]
            }
            #expect(results == [ENAMETOOLONG, ENAMETOOLONG, ENAMETOOLONG, ENAMETOOLONG, 0])
        }
    }

    /// Names a repository cannot store are refused (EILSEQ) unless `.mesaignore` keeps them local: the built-in
    /// rules keep `.git` (so `git init` works), not its case variants or git's short names for it.
    @Test func namesARepositoryCannotStoreAreRefused() async throws {
        try await withTestMount(Fixtures.tree, writable: true) { mount in
            let root = mount.repositoryPath
            let results = try await mount.blocking { () -> [Int32] in
                [
                    failure(open(root + "/src/.GIT", O_CREAT | O_WRONLY, 0o644)),
                    failure(mkdir(root + "/.Git", 0o755)), failure(mkdir(root + "/git~1", 0o755)),
                    failure(symlink("x", root + "/.GIT")), failure(rename(root + "/README.md", root + "/.GIT")),
                    failure(mknod(root + "/.gIt", S_IFREG | 0o644, 0)), failure(mkdir(root + "/a\\b", 0o755)),
                ]
            }
            #expect(results == [EILSEQ, EILSEQ, EILSEQ, EILSEQ, EILSEQ, EILSEQ, EILSEQ])
            let listing = try await mount.run("ls", "-A", in: root).output
            #expect(!listing.lowercased().contains(".git") && !listing.contains("git~1"), "\(listing)")
            // `.git` itself stays local, as the built-in `.mesaignore` says.
            #expect(try await mount.blocking { mkdir(root + "/.git", 0o755) } == 0)
            #expect(mount.fs.pendingChanges(repository: 0).nodes == 0)
        }
    }

    @Test func theMountRootAndOrganizationsCannotChange() async throws {
        try await withTestMount(Fixtures.tree, writable: true) { mount in
            let organization = mount.path + "/acme"
            let results = try await mount.blocking { () -> [Int32] in
                [
                    failure(mkdir(mount.path + "/other", 0o755)),
                    failure(open(organization + "/file", O_CREAT | O_WRONLY, 0o644)),
                    failure(mkdir(organization + "/other", 0o755)),
                    failure(rename(organization + "/demo", organization + "/renamed")),
                    failure(rmdir(organization + "/demo")),
                    failure(rename(mount.repositoryPath + "/README.md", organization + "/README.md")),
                ]
            }
            #expect(results == [EPERM, EPERM, EPERM, EPERM, EPERM, EXDEV])
            #expect(try await mount.run("ls", organization).output == "demo\n")
        }
    }
}

/// The errno of a failed call (a negative result), read at once on the calling thread; 0 when the call succeeded.
private func failure<Result: BinaryInteger>(_ result: Result) -> Int32 {
    result < 0 ? errno : 0
}

/// `stat(2)` of a path, following symbolic links.
private func fileStatus(_ path: String) throws -> stat {
    var status = stat()
    guard stat(path, &status) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
    return status
}

/// Linux calls Swift's Glibc module does not export (they are `_GNU_SOURCE` declarations), looked up with `dlsym`
/// so the tests need no C shim of their own.
private enum LinuxCalls {
    /// `RENAME_NOREPLACE` and `RENAME_EXCHANGE` (linux/fs.h).
    static let noReplace: UInt32 = 1 << 0
    static let exchange: UInt32 = 1 << 1
    /// `FALLOC_FL_KEEP_SIZE` and `FALLOC_FL_PUNCH_HOLE` (linux/falloc.h).
    static let fallocateKeepSize: Int32 = 0x01
    static let fallocatePunchHole: Int32 = 0x02

    /// `renameat2(2)` relative to the working directory; -1 with errno ENOSYS when glibc lacks it.
    static func renameat2(_ old: String, _ new: String, _ flags: UInt32) -> Int32 {
        typealias Call = @convention(c) (Int32, UnsafePointer<CChar>, Int32, UnsafePointer<CChar>, UInt32) -> Int32
        guard let symbol = dlsym(nil, "renameat2") else {
            errno = ENOSYS
            return -1
        }
        // SAFETY: the type matches glibc's prototype in stdio.h (int, const char *, int, const char *, unsigned).
        return unsafeBitCast(symbol, to: Call.self)(AT_FDCWD, old, AT_FDCWD, new, flags)
    }

    /// `fallocate(2)`; -1 with errno ENOSYS when glibc lacks it.
    static func fallocate(_ descriptor: Int32, _ mode: Int32, _ offset: Int, _ length: Int) -> Int32 {
        typealias Call = @convention(c) (Int32, Int32, Int, Int) -> Int32
        guard let symbol = dlsym(nil, "fallocate") else {
            errno = ENOSYS
            return -1
        }
        // SAFETY: the type matches glibc's prototype in fcntl.h (int, int, off_t, off_t; off_t is 64-bit here).
        return unsafeBitCast(symbol, to: Call.self)(descriptor, mode, offset, length)
    }
}
