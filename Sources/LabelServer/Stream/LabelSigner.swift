import ATCrypto
import ATProto
import LabelStore

/// Serves every label under the current signing key. After a key rotation, rows signed by an
/// earlier key are re-signed when they are served (keeping their `cts`), as the label spec asks,
/// instead of rewriting the whole table at once.
struct LabelSigner: Sendable {
    let key: SigningKey
    /// The store's row id of `key`.
    let keyID: Int64

    /// `row`'s label as it goes on the wire: as stored when `keyID` signed it, re-signed otherwise.
    /// A label that cannot be re-signed (which the key types never do) goes out as stored, so
    /// the stream never stalls on one row.
    func current(_ row: StoredLabel) -> Label {
        guard row.keyID != keyID else { return row.label }
        var label = row.label
        label.ver = 1
        return (try? label.signed(with: key)) ?? row.label
    }
}
