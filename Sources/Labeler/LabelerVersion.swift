/// The labeler's version: what `labeler --version` prints and `/xrpc/_health` reports.
///
/// It is the one line of `Sources/Labeler/VERSION`, which the build compiles into the module
/// (`resources: [.embedInCode("VERSION")]` in Package.swift): a binary copied to another machine
/// reports the version it was built from, with no file or repository at hand. A release changes
/// that file (`scripts/version.sh X.Y.Z`).
public enum LabelerVersion {
    /// The version, e.g. `0.1.0`; `unknown` if the file was left empty, so the answer is never blank.
    public static let current: String = parse(PackageResources.VERSION)

    /// The first line of `bytes`, trimmed of spaces; `unknown` when there is none.
    static func parse(_ bytes: [UInt8]) -> String {
        let text = String(decoding: bytes, as: UTF8.self)
        let line = text.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        let trimmed = line.drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed()
        return trimmed.isEmpty ? "unknown" : String(trimmed)
    }
}
