import ATProto
import LabelStore
import NIOCore

/// One encoded `#labels` message, ready to be written to any number of subscribers (the buffer
/// is shared, not copied).
struct LabelFrame: Sendable {
    let seq: Int64
    let frame: WireFrame
    /// The label's identity in the store (`src`, `uri`, `cid`, `val`): a later frame with the same
    /// key supersedes this one, as the later row replaces the earlier in the store.
    let key: String

    init(seq: Int64, frame: WireFrame, key: String) {
        self.seq = seq
        self.frame = frame
        self.key = key
    }

    /// Encodes `row` as header `{op: 1, t: "#labels"}` + `{seq, labels: [label]}`, one label per
    /// message with the row's seq, as the reference labeler does.
    init(_ row: StoredLabel, signer: LabelSigner) {
        seq = row.seq
        key = row.label.src + "\u{0}" + row.label.uri + "\u{0}" + (row.label.cid ?? "") + "\u{0}" + row.label.val
        frame = WireFrame(payload: FrameCodec.encodeLabels(seq: row.seq, labels: [signer.current(row)]))
    }
}
