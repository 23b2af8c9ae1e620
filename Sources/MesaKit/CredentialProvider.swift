import Synchronization

/// Supplies the credential (an API key or an access token) that each request sends as `Authorization: Bearer`.
///
/// MesaKit asks before every request, retries included, so a provider can hand out a fresh token while requests
/// run: a long-running mount is given a new token before the old one expires (DESIGN.md section 5, "Credentials").
public protocol CredentialProvider: Sendable {
    /// The credential to send now.
    func credential() async throws -> String
}

/// A credential that never changes.
public struct StaticCredential: CredentialProvider {
    private let value: String

    /// Wraps an API key or a token.
    public init(_ value: String) {
        self.value = value
    }

    /// The wrapped credential.
    public func credential() async throws -> String { value }
}

/// A credential that can be replaced while requests run; the next request sends the new value.
///
/// ```swift
/// let credential = MutableCredential(initialToken)
/// let mesa = Mesa(credentials: credential)
/// // later, before the token expires:
/// credential.replace(with: freshToken)
/// ```
public final class MutableCredential: CredentialProvider {
    private let value: Mutex<String>

    /// Starts with `initial`.
    public init(_ initial: String) {
        value = Mutex(initial)
    }

    /// Replaces the credential; requests that already sent the old one are not affected.
    public func replace(with newValue: String) {
        value.withLock { $0 = newValue }
    }

    /// The current credential.
    public var current: String { value.withLock { $0 } }

    /// The current credential.
    public func credential() async throws -> String { current }
}
