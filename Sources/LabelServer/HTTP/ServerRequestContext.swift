import Hummingbird
import HummingbirdWebSocket
import NIOCore

/// The request context of both routers. It keeps the connection's channel so that a WebSocket
/// whose client stopped reading can be closed even while a write to it is blocked.
struct ServerRequestContext: RequestContext, WebSocketRequestContext {
    var coreContext: CoreRequestContextStorage
    let webSocket: WebSocketHandlerReference<ServerRequestContext>
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        webSocket = .init()
        channel = source.channel
    }

    /// Admin requests are small JSON objects.
    var maxUploadSize: Int { 64 * 1024 }
}
