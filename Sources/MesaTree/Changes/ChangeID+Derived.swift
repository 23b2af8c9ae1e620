import Crypto
package import MesaCore

extension ChangeID {
    /// The change id of an imported commit: the first 16 bytes of SHA-256 of `mesa-change:` and the commit's
    /// 40-digit hex id. Deterministic, so importing a commit twice gives it the same change (DESIGN.md section 3).
    package init(importedCommit commit: ObjectID) {
        let digest = SHA256.hash(data: Array("mesa-change:\(commit.hex)".utf8))
        // A SHA-256 digest has 32 bytes, so its first 16 always make an id.
        self = ChangeID(bytes: Array(digest).prefix(ChangeID.byteCount))!
    }
}
