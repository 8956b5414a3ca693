import ATProto
import Hummingbird
import NIOCore

/// An XRPC error response: an HTTP status and the JSON body `{"error": …, "message": …}` that
/// atproto clients read (PROTOCOL §1, §3.5).
struct XRPCError: Error, Sendable, Equatable {
    var status: HTTPResponse.Status
    /// A short code without namespace, such as `InvalidRequest`.
    var error: String
    var message: String
    var headers: HTTPFields = [:]

    static func invalidRequest(_ message: String) -> XRPCError {
        XRPCError(status: .badRequest, error: "InvalidRequest", message: message)
    }

    var response: Response {
        var fields = headers
        fields[.contentType] = JSONResponse.contentType
        let body = #"{"error":"# + DataModelJSON.quote(error) + #","message":"# + DataModelJSON.quote(message) + "}"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}

/// JSON responses built from already-serialized text (the data-model JSON writer produces it).
enum JSONResponse {
    static let contentType = "application/json; charset=utf-8"

    static func ok(_ json: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status, headers: [.contentType: contentType], body: .init(byteBuffer: ByteBuffer(string: json)))
    }

    /// Runs `body`, turning an `XRPCError` into its response and anything else into a bare 500 whose
    /// message reveals nothing of the cause (which is logged).
    static func respond(
        _ context: some RequestContext, _ body: () async throws -> Response
    ) async -> Response {
        do {
            return try await body()
        } catch let error as XRPCError {
            return error.response
        } catch {
            context.logger.error("request failed", metadata: ["error": "\(error)"])
            return XRPCError(
                status: .internalServerError, error: "InternalServerError", message: "Internal Server Error"
            )
            .response
        }
    }
}
