#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
package import SystemPackage

/// Runs a system call that reports failure as `-1` plus `errno`, retrying on `EINTR`.
///
/// This is the one helper every raw `Glibc` call in the project goes through, so that a failing C return code is
/// checked on the very next line (STYLE.md section 4).
/// - Parameter body: the call; it returns `-1` on failure.
/// - Returns: the call's non-negative result.
/// - Throws: the `Errno` the call set.
package func valueOrErrno<T: FixedWidthInteger>(_ body: () -> T) throws(Errno) -> T {
    while true {
        let result = body()
        if result != -1 { return result }
        let code = Errno(rawValue: errno)
        if code == .interrupted { continue }
        throw code
    }
}
