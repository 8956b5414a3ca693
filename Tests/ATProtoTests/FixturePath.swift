import Foundation

/// Locates files under `Tests/Fixtures`, relative to this source file so that tests find them
/// from any working directory and without bundling them as resources.
enum FixturePath {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures")

    /// `relative` is a path under `Tests/Fixtures`, e.g. `atproto-interop-tests/syntax/did_syntax_valid.txt`.
    static func url(_ relative: String) -> URL { root.appendingPathComponent(relative) }
}
