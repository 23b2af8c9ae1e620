package import SystemPackage
import MesaSync

// The one errno table of the project (STYLE.md section 4). An exhaustive switch with no default: a new case must
// decide its errno here. docs/Semantics.md lists the same table, and an integration test checks some rows.

extension FSError {
    /// The errno the kernel receives for this failure.
    package var errno: Errno {
        switch self {
        case .notFound: .noSuchFileOrDirectory
        case .notADirectory: .notDirectory
        case .isADirectory: .isDirectory
        case .notASymlink: .invalidArgument
        case .readOnly: .readOnlyFileSystem
        case .noAttribute: .noData
        case .attributesNotSupported: .notSupported
        case .notImplemented: .noFunction
        case .unknownInode: .staleNFSFileHandle
        case .unknownHandle: .badFileDescriptor
        case .nameTooLong: .fileNameTooLong
        case .invalidArgument: .invalidArgument
        case .unknownRepository: .noSuchFileOrDirectory
        case .interrupted: .interrupted
        case .source(let error):
            switch error {
            case .cancelled: .interrupted
            // An upload's path the server would refuse (the upload pipeline reports it for the path it names).
            case .invalidPath: .invalidArgument
            case .objectNotFound, .revisionNotFound, .corruptObject, .store, .tree, .remote, .shutDown,
                .invalidArgument, .pushRefused:
                .ioError
            }
        case .exists: .fileExists
        case .notEmpty: .directoryNotEmpty
        case .crossRepository: .improperLink
        case .notPermitted: .notPermitted
        case .illegalName: .illegalByteSequence
        case .notSupported: .notSupported
        case .journal: .ioError
        case .overlay(let errno, _): errno
        }
    }

    /// Whether the failure is part of normal operation (logged at `trace`) rather than a fault (`warning`).
    package var isExpected: Bool {
        switch self {
        case .notFound, .notADirectory, .isADirectory, .notASymlink, .readOnly, .noAttribute,
            .attributesNotSupported, .nameTooLong, .interrupted, .exists, .notEmpty, .crossRepository, .notPermitted,
            .illegalName, .notSupported:
            true
        case .notImplemented, .unknownInode, .unknownHandle, .invalidArgument, .unknownRepository, .source, .journal,
            .overlay:
            false
        }
    }
}
