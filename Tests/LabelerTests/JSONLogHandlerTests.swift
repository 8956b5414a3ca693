import Foundation
import Logging
import Testing

@testable import Labeler

@Suite struct JSONLogHandlerTests {
    /// A logger whose JSON lines are kept in `lines`, at a fixed time.
    final class Capture: Sendable {
        let written = Locked<[String]>([])
        var lines: [String] { written.value }

        func logger(level: Logger.Level = .trace, provider: Logger.MetadataProvider? = nil) -> Logger {
            let written = self.written
            return Logger(label: "labeler.test") { label in
                JSONLogHandler(
                    label: label, level: level, metadataProvider: provider,
                    now: { Date(timeIntervalSince1970: 1_796_270_706.789) },
                    write: { line in written.withLock { $0.append(line) } })
            }
        }

        /// Every line, parsed; records an issue for a line that is not one JSON object.
        func objects() -> [[String: Any]] {
            lines.compactMap { line in
                #expect(line.hasSuffix("\n") && line.dropLast().firstIndex(of: "\n") == nil, "not one line: \(line)")
                let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                #expect(object != nil, "not a JSON object: \(line)")
                return object
            }
        }
    }

    @Test func eachMessageIsOneJSONObjectWithTimeLevelLoggerAndMessage() throws {
        let capture = Capture()
        let logger = capture.logger()
        logger.info("serving labels", metadata: ["port": "14831"])
        logger.error("database unreachable")
        let objects = capture.objects()
        try #require(objects.count == 2)
        #expect(objects[0]["ts"] as? String == "2026-12-03T04:05:06.789Z")
        #expect(objects[0]["level"] as? String == "info")
        #expect(objects[0]["logger"] as? String == "labeler.test")
        #expect(objects[0]["msg"] as? String == "serving labels")
        #expect(objects[0]["port"] as? String == "14831")
        #expect(objects[1]["level"] as? String == "error" && objects[1]["msg"] as? String == "database unreachable")
        // The fixed keys come first, in this order, so a person reading the raw line sees them.
        #expect(
            capture.lines[0].hasPrefix(
                #"{"ts":"2026-12-03T04:05:06.789Z","level":"info","logger":"labeler.test","msg":"#))
    }

    @Test func messagesAndMetadataAreEscaped() throws {
        let capture = Capture()
        let awkward = "quote \" backslash \\ newline \n return \r tab \t bell \u{07} nul \u{00} del \u{7F} é 🏷️ \u{2028}"
        capture.logger().warning("\(awkward)", metadata: ["text": "\(awkward)", "key \"with\" quotes\n": "v"])
        let object = try #require(capture.objects().first)
        #expect(object["msg"] as? String == awkward)
        #expect(object["text"] as? String == awkward)
        #expect(object["key \"with\" quotes\n"] as? String == "v")
        let line = capture.lines[0]
        #expect(line.contains(#"\"with\""#) && line.contains(#"bell \u0007 nul \u0000 del \u007f"#))
        #expect(line.contains("é 🏷️"), "non-ASCII is written as UTF-8, not escaped")
    }

    @Test func metadataMergesHandlerProviderAndCallWithTheCallWinning() throws {
        let capture = Capture()
        let provider = Logger.MetadataProvider { ["request": "r1", "shared": "provider"] }
        var logger = capture.logger(provider: provider)
        logger[metadataKey: "shared"] = "logger"
        logger[metadataKey: "service"] = "labeler"
        logger.info(
            "event",
            metadata: [
                "shared": "call", "seq": "42",
                "nested": .dictionary(["a": "1", "list": .array(["x", .stringConvertible(7)])]),
            ])
        let object = try #require(capture.objects().first)
        #expect(object["shared"] as? String == "call")
        #expect(object["service"] as? String == "labeler" && object["request"] as? String == "r1")
        #expect(object["seq"] as? String == "42")
        let nested = try #require(object["nested"] as? [String: Any])
        #expect(nested["a"] as? String == "1")
        #expect(nested["list"] as? [String] == ["x", "7"])
    }

    @Test func metadataNamedLikeAFixedKeyIsRenamedNotDuplicated() throws {
        let capture = Capture()
        capture.logger().info(
            "the message", metadata: ["msg": "from metadata", "level": "x", "ts": "y", "logger": "z"])
        let line = capture.lines[0]
        for key in ["ts", "level", "logger", "msg"] {
            #expect(line.components(separatedBy: "\"\(key)\":").count == 2, "\(key) appears once")
        }
        let object = try #require(capture.objects().first)
        #expect(object["msg"] as? String == "the message" && object["meta_msg"] as? String == "from metadata")
        #expect(object["meta_level"] as? String == "x" && object["level"] as? String == "info")
    }

    @Test func messagesBelowTheLevelAreNotWritten() {
        let capture = Capture()
        let logger = capture.logger(level: .warning)
        logger.debug("hidden")
        logger.info("hidden")
        logger.warning("shown")
        logger.critical("shown")
        #expect(capture.lines.count == 2)
        #expect(capture.objects().map { $0["level"] as? String } == ["warning", "critical"])
    }

    @Test(arguments: [
        (0.0, "1970-01-01T00:00:00.000Z"), (1_796_270_706.789, "2026-12-03T04:05:06.789Z"),
        (951_782_400.0015, "2000-02-29T00:00:00.001Z"), (-1.5, "1969-12-31T23:59:58.500Z"),
    ])
    func timestampsAreUTCToTheMillisecond(seconds: Double, expected: String) {
        #expect(JSONLogHandler.timestamp(Date(timeIntervalSince1970: seconds)) == expected)
    }

    @Test func settingsPickTheHandler() {
        #expect(LogSettings(format: .json, level: .error).handler(label: "x") is JSONLogHandler)
        #expect(LogSettings(format: .text, level: .error).handler(label: "x") is StreamLogHandler)
        #expect(LogSettings(format: .json, level: .error).handler(label: "x").logLevel == .error)
    }
}
