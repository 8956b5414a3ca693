import Foundation

/// The files a rule set is loaded from: the rule files, the label definitions, and a way to read
/// the list files they reference. ``directory(_:)`` reads a rules folder; tests build one in memory.
public struct RuleSources: Sendable {
    /// One rule file: its path (as printed in diagnostics) and its text.
    public struct File: Sendable, Hashable {
        public var path: String
        public var text: String

        public init(path: String, text: String) {
            self.path = path
            self.text = text
        }
    }

    /// Rule files, loaded in this order (diagnostics are sorted by path anyway).
    public var ruleFiles: [File]
    /// The folder's `labels.yaml` (see ``LabelDefinitions``); when present, every value a rule
    /// emits must be defined in it or be a global value. `nil`: values are not checked.
    public var labelDefinitions: File?
    /// Reads a list file by path (the referencing file's directory joined with the path written).
    public var readList: @Sendable (String) throws(ListFileError) -> String

    public init(
        ruleFiles: [File], labelDefinitions: File? = nil,
        readList: @escaping @Sendable (String) throws(ListFileError) -> String
    ) {
        self.ruleFiles = ruleFiles
        self.labelDefinitions = labelDefinitions
        self.readList = readList
    }

    /// Rule files and list files held in memory, keyed by path.
    public init(ruleFiles: [File], labelDefinitions: File? = nil, lists: [String: String] = [:]) {
        self.ruleFiles = ruleFiles
        self.labelDefinitions = labelDefinitions
        readList = { path throws(ListFileError) in
            guard let text = lists[path] else { throw .notFound }
            return text
        }
    }

    /// Every `*.yaml` file under `path`, recursively, except the `tests` folder at its top (rule
    /// test cases), `labels.yaml` at its top (the label definitions) and hidden files and folders;
    /// list files are read from disk when referenced.
    ///
    /// - Throws: a ``RuleLoadError`` when the folder cannot be read or a file is not UTF-8.
    public static func directory(_ path: String) throws(RuleLoadError) -> RuleSources {
        let root = path.hasSuffix("/") && path.count > 1 ? String(path.dropLast()) : path
        let paths: [String]
        do {
            paths = try yamlFiles(under: root)
        } catch {
            throw RuleLoadError(diagnostics: [
                RuleDiagnostic(SourceLocation(file: root, line: 1, column: 1), "cannot read the rules folder: \(error)")
            ])
        }
        var files: [File] = []
        var diagnostics: [RuleDiagnostic] = []
        for file in paths {
            do {
                files.append(File(path: file, text: try readUTF8(file)))
            } catch {
                diagnostics.append(RuleDiagnostic(SourceLocation(file: file, line: 1, column: 1), error.description))
            }
        }
        var labels: File?
        do { labels = try labelDefinitionsFile(in: root) } catch { diagnostics += error.diagnostics }
        guard diagnostics.isEmpty else { throw RuleLoadError(diagnostics: diagnostics) }
        return RuleSources(ruleFiles: files, labelDefinitions: labels) { path throws(ListFileError) in
            try readUTF8(path)
        }
    }

    /// The path of the label definitions of the rules folder `root`.
    public static func labelDefinitionsPath(in root: String) -> String {
        (root.hasSuffix("/") && root.count > 1 ? String(root.dropLast()) : root) + "/" + LabelDefinitions.fileName
    }

    /// The folder's `labels.yaml`, or `nil` when there is none.
    /// - Throws: a ``RuleLoadError`` when it exists but cannot be read.
    static func labelDefinitionsFile(in root: String) throws(RuleLoadError) -> File? {
        let path = labelDefinitionsPath(in: root)
        do {
            return File(path: path, text: try readUTF8(path))
        } catch .notFound {
            return nil
        } catch {
            throw RuleLoadError(diagnostics: [
                RuleDiagnostic(SourceLocation(file: path, line: 1, column: 1), error.description)
            ])
        }
    }

    /// Paths of the rule files under `root`, sorted.
    static func yamlFiles(under root: String) throws -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root, isDirectory: &isDirectory) else {
            throw ListFileError.notFound
        }
        guard isDirectory.boolValue else { throw ListFileError.unreadable("not a folder") }
        var found: [String] = []
        func walk(_ directory: String, top: Bool) throws {
            for name in try FileManager.default.contentsOfDirectory(atPath: directory).sorted() {
                if name.hasPrefix(".") || (top && (name == "tests" || name == LabelDefinitions.fileName)) { continue }
                let path = directory + "/" + name
                var isFolder: ObjCBool = false
                guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else { continue }
                if isFolder.boolValue {
                    try walk(path, top: false)
                } else if name.hasSuffix(".yaml") || name.hasSuffix(".yml") {
                    found.append(path)
                }
            }
        }
        try walk(root, top: true)
        return found
    }

    static func readUTF8(_ path: String) throws(ListFileError) -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
                throw .unreadable(isDirectory.boolValue ? "it is a folder" : "permission denied")
            }
            throw .notFound
        }
        guard let text = String(data: data, encoding: .utf8) else { throw .notUTF8 }
        return text
    }
}

/// Why a file could not be read.
public enum ListFileError: Error, Sendable, Hashable, CustomStringConvertible {
    case notFound
    case notUTF8
    case unreadable(String)

    public var description: String {
        switch self {
        case .notFound: "no such file"
        case .notUTF8: "the file is not valid UTF-8"
        case .unreadable(let reason): "cannot read the file: \(reason)"
        }
    }
}
