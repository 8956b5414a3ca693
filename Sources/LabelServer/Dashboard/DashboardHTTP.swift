import Foundation
import Hummingbird

/// The small pieces of HTTP the dashboard needs and Hummingbird leaves to the application:
/// form bodies, the session cookie, HTML escaping and the headers every page carries.
enum DashboardHTTP {
    static let cookieName = "labeler_session"
    /// Forms are a token, a label or a pasted record: far below this.
    static let maximumFormBytes = 256 * 1024

    /// An `application/x-www-form-urlencoded` body: `+` is a space, `%XX` a byte. A name given
    /// twice keeps its first value; a pair that does not decode is skipped.
    static func parseForm(_ body: String) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in body.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = decodeComponent(parts[0]) else { continue }
            let value = parts.count > 1 ? decodeComponent(parts[1]) : ""
            if let value, fields[name] == nil { fields[name] = value }
        }
        return fields
    }

    private static func decodeComponent(_ text: Substring) -> String? {
        text.replacingOccurrences(of: "+", with: " ").removingPercentEncoding
    }

    /// The value of the cookie `name` in a `Cookie` header (`a=1; b=2`).
    static func cookie(_ name: String, in header: String?) -> String? {
        guard let header else { return nil }
        for part in header.split(separator: ";") {
            let pair = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            if pair.count == 2, pair[0].trimmingCharacters(in: .whitespaces) == name {
                return pair[1].trimmingCharacters(in: .whitespaces)
            }
        }
        return nil
    }

    /// The session cookie: not readable by scripts (HttpOnly), never sent by the browser on a
    /// request another site starts (SameSite=Strict), for the whole server (Path=/). `secure`
    /// adds `Secure` when the request came through an HTTPS proxy.
    static func sessionCookie(_ id: String, maxAge: Duration, secure: Bool) -> String {
        "\(cookieName)=\(id); Path=/; Max-Age=\(maxAge.components.seconds); HttpOnly; SameSite=Strict"
            + (secure ? "; Secure" : "")
    }

    /// Tells the browser to forget the session cookie.
    static func expiredCookie(secure: Bool) -> String {
        "\(cookieName)=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict" + (secure ? "; Secure" : "")
    }

    /// Whether the request reached the server through a proxy that terminated HTTPS.
    static func isHTTPS(_ request: Request) -> Bool {
        request.headers[.init("x-forwarded-proto")!]?.lowercased() == "https"
    }

    /// Text made safe inside HTML elements and double-quoted attributes.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }

    /// A query-string component (for links the pages build).
    static func queryComponent(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~:/*")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
    }

    /// The headers of every dashboard answer. The content security policy lets the page load
    /// nothing but this server's own script and style, and send its requests nowhere else: the
    /// dashboard works with no network but the labeler's, and injected markup could not run.
    static func headers(contentType: String) -> HTTPFields {
        var fields: HTTPFields = [:]
        fields[.contentType] = contentType
        fields[.cacheControl] = "no-store"
        fields[.init("content-security-policy")!] =
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
            + "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
        fields[.init("x-content-type-options")!] = "nosniff"
        fields[.init("x-frame-options")!] = "DENY"
        fields[.init("referrer-policy")!] = "no-referrer"
        return fields
    }

    static func html(_ body: String, status: HTTPResponse.Status = .ok, cookie: String? = nil) -> Response {
        var fields = headers(contentType: "text/html; charset=utf-8")
        if let cookie { fields[.setCookie] = cookie }
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    static func json(_ body: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status, headers: headers(contentType: "application/json; charset=utf-8"),
            body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    /// The stylesheet or the script: the same for everyone, asked for again on each page so an
    /// upgraded binary's assets are taken at once (they are a few kilobytes).
    static func asset(_ text: String, contentType: String) -> Response {
        var fields = headers(contentType: contentType)
        fields[.cacheControl] = "no-cache"
        return Response(status: .ok, headers: fields, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// 303 See Other: after a form's POST, the browser GETs `location`, so a reload does not
    /// send the form again.
    static func redirect(_ location: String, cookie: String? = nil) -> Response {
        var fields = headers(contentType: "text/plain; charset=utf-8")
        fields[.location] = location
        if let cookie { fields[.setCookie] = cookie }
        return Response(status: .seeOther, headers: fields)
    }
}
