import ATProto
import Foundation
import LabelStore
import Labeler

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `labeler label add|negate` through a running service: its admin endpoint
/// (`tools.ozone.moderation.emitEvent`), so the change goes through the service's one writer and
/// reaches live subscribers at once. Used when the configuration has an admin token.
struct AdminEndpoint {
    let url: String
    let token: String

    enum Outcome {
        /// The service took the change; its answer.
        case done(String)
        /// Nothing listens there: the service is not running.
        case notRunning
    }

    /// The endpoint of the service `configuration` describes, when it has an admin token.
    static func configured(server: String?, configuration: LabelerConfiguration) -> AdminEndpoint? {
        guard !configuration.adminToken.isEmpty else { return nil }
        let host = configuration.serverHost == "0.0.0.0" ? "127.0.0.1" : configuration.serverHost
        return AdminEndpoint(
            url: server ?? "http://\(host):\(configuration.serverPort)", token: configuration.adminToken)
    }

    /// Sends one `#modEventLabel`.
    func emit(
        action: LabelChange.Action, subject: LabelSubject, cid: String?, val: String, durationInHours: Int64?,
        comment: String?, createdBy: String
    ) async throws -> Outcome {
        var event: [(String, CBORValue)] = [
            ("$type", "tools.ozone.moderation.defs#modEventLabel"),
            ("createLabelVals", .array(action == .apply ? [.text(CBORText(val))] : [])),
            ("negateLabelVals", .array(action == .negate ? [.text(CBORText(val))] : [])),
        ]
        if let comment { event.append(("comment", .text(CBORText(comment)))) }
        if let durationInHours { event.append(("durationInHours", .int(durationInHours))) }
        let uri = CBORValue.text(CBORText(subject.rawValue))
        let reference: CBORValue =
            if let cid {
                .map(["$type": "com.atproto.repo.strongRef", "uri": uri, "cid": .text(CBORText(cid))])
            } else {
                .map(["$type": "com.atproto.admin.defs#repoRef", "did": uri])
            }
        let body: CBORValue = .map([
            "event": .map(CBORMap(event)), "subject": reference, "createdBy": .text(CBORText(createdBy)),
        ])
        var request = URLRequest(url: URL(string: url + "/xrpc/tools.ozone.moderation.emitEvent")!)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        request.httpBody = Data(DataModelJSON.serialize(body).utf8)
        let data: Data
        let response: URLResponse
        do {
            (data, response) = try await URLSession.shared.data(for: request)
        } catch let error as URLError
            where [.cannotConnectToHost, .cannotFindHost, .networkConnectionLost].contains(error.code)
        {
            return .notRunning
        }
        let text = String(decoding: data, as: UTF8.self)
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        guard status == 200 else {
            throw CommandFailure("the running service refused the change (HTTP \(status)): \(text)")
        }
        return .done(text)
    }
}
