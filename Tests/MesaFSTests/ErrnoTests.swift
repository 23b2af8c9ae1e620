import MesaCore
import MesaFS
import MesaSync
import SystemPackage
import Testing

@Suite struct ErrnoTests {
    /// The table of docs/Semantics.md.
    @Test(arguments: [
        (FSError.notFound, Errno.noSuchFileOrDirectory),
        (.notADirectory, .notDirectory),
        (.isADirectory, .isDirectory),
        (.notASymlink, .invalidArgument),
        (.readOnly, .readOnlyFileSystem),
        (.noAttribute, .noData),
        (.attributesNotSupported, .notSupported),
        (.notImplemented(operation: "fallocate"), .noFunction),
        (.unknownInode(InodeNumber(9)), .staleNFSFileHandle),
        (.unknownHandle(FileHandleID(9)), .badFileDescriptor),
        (.nameTooLong, .fileNameTooLong),
        (.invalidArgument("x"), .invalidArgument),
        (.unknownRepository(RepositoryPath(organization: "a", name: "b")), .noSuchFileOrDirectory),
        (.interrupted, .interrupted),
        (.source(.cancelled), .interrupted),
        (.source(.objectNotFound(RecordKey(chunk: ChunkID(bytes: [UInt8](repeating: 1, count: 32))!))), .ioError),
        (.source(.remote(operation: "fetch", message: "down")), .ioError),
        (.source(.revisionNotFound(.defaultBookmark)), .ioError),
    ])
    func errnoTable(error: FSError, errno: Errno) {
        #expect(error.errno == errno)
    }

    @Test func cancelledSourcesBecomeInterrupts() {
        #expect(FSError(SyncError.cancelled) == .interrupted)
        #expect(FSError(SyncError.shutDown) == .source(.shutDown))
    }
}
