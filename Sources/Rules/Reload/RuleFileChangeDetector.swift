import Foundation

/// Notices when the files of a rule set change, by polling: the size and modification time of
/// every rule file under the folder and of its `labels.yaml` (files added and removed included)
/// and of the list files the loaded set read. Cheap enough to run every second or two; the service reloads when
/// ``poll()`` says so.
///
/// ```swift
/// var detector = RuleFileChangeDetector(directory: "rules", listFiles: holder.current.files)
/// // every 2 s:
/// if detector.poll() { holder.reload(from: "rules"); detector.watch(listFiles: holder.current.files) }
/// ```
public struct RuleFileChangeDetector: Sendable {
    /// Size and modification time of one file; `nil` entries stand for missing files.
    public struct Stamp: Hashable, Sendable {
        public var size: UInt64
        public var modified: Double
    }

    public let directory: String
    private var listFiles: [String]
    private var last: [String: Stamp?]

    /// Starts watching; the current state is the reference for the first ``poll()``.
    /// - Parameter listFiles: extra files to watch (typically ``RuleSet/files``; rule files in the
    ///   folder are found anew at every poll).
    public init(directory: String, listFiles: [String] = []) {
        self.directory = directory
        self.listFiles = listFiles
        last = [:]
        last = snapshot()
    }

    /// Replaces the extra files watched (after a reload that may reference other lists).
    ///
    /// The reference stays the state seen by the last ``poll()``, taken before the reload read the
    /// files: a file changed while the reload was reading it is then seen by the next poll, not
    /// taken for the state the reload loaded. Only a list file new to the watch is stamped now
    /// (it had no reference), and one no longer watched is forgotten, so that neither causes a
    /// second reload of what was just loaded (a large list takes seconds to compile).
    public mutating func watch(listFiles: [String]) {
        let watched = Set(listFiles)
        let ruleFiles = Set(folderFiles())
        for path in self.listFiles where !watched.contains(path) && !ruleFiles.contains(path) {
            last.removeValue(forKey: path)
        }
        for path in listFiles where last[path] == nil { last[path] = .some(Self.stamp(of: path)) }
        self.listFiles = listFiles
    }

    /// Whether anything changed since the last poll (or since creation).
    public mutating func poll() -> Bool {
        let now = snapshot()
        defer { last = now }
        return now != last
    }

    /// The stamps of every watched file now.
    public func snapshot() -> [String: Stamp?] {
        var stamps: [String: Stamp?] = [:]
        for path in folderFiles() + listFiles { stamps[path] = Self.stamp(of: path) }
        return stamps
    }

    /// The rule files found in the folder now, and its `labels.yaml` whether it exists or not (so
    /// that creating or deleting it is a change).
    private func folderFiles() -> [String] {
        ((try? RuleSources.yamlFiles(under: directory)) ?? []) + [RuleSources.labelDefinitionsPath(in: directory)]
    }

    static func stamp(of path: String) -> Stamp? {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path) else { return nil }
        let size = (attributes[.size] as? NSNumber)?.uint64Value ?? 0
        let modified = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
        return Stamp(size: size, modified: modified)
    }
}
