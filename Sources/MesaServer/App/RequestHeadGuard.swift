import Foundation
import HTTPTypes
import MesaWire
import NIOCore
import NIOHTTP1
import NIOHTTPTypes

// Limits on the request head that Hummingbird's HTTP/1 channel does not give (it sits in the pipeline right after the
// HTTP codec, through `HTTP1Channel.Configuration.additionalChannelHandlers`):
//
// - A head must arrive whole within `timeout` of the connection opening, or of the previous response's end on a
//   kept-alive connection; otherwise the connection is closed. The HTTP decoder hands a head over only once it is
//   complete, so a client that sends half a head (slowloris) is cut off, whatever it trickles.
// - A head the decoder refuses (larger than the decoder's limits, or malformed) gets Mesa's JSON error body (431 for
//   an oversized head, 400 otherwise) before the connection closes, instead of an empty 400.
// - CONNECT, which would turn the connection into a tunnel, is answered 405 with the JSON body and the connection
//   closed, before the router sees it.

/// Times out incomplete request heads and answers decoder refusals with Mesa's error body.
final class RequestHeadGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let timeout: TimeAmount
    private var timer: Scheduled<Void>?
    /// Requests whose head arrived and whose response has not ended.
    private var open = 0
    /// Set once this handler answered the connection itself: nothing more is read from it.
    private var refusing = false

    /// Creates a guard closing connections whose next head is not complete within `timeout`.
    init(timeout: TimeAmount) { self.timeout = timeout }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { arm(context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) { disarm() }

    func channelActive(context: ChannelHandlerContext) {
        arm(context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        disarm()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !refusing else { return }
        if case .head(let head) = unwrapInboundIn(data) {
            disarm()
            // CONNECT turns the connection into a tunnel (the HTTP decoder stops framing): answer it here and close.
            if head.method == .connect, open == 0 {
                refusing = true
                respond(
                    context, status: .methodNotAllowed,
                    ErrorBody(code: "METHOD_NOT_ALLOWED", message: "CONNECT is not served here"))
                return
            }
            open += 1
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) {
            open = max(0, open - 1)
            if open == 0 { arm(context) }
        }
        context.write(data, promise: promise)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let parserError = error as? HTTPParserError else {
            context.fireErrorCaught(error)
            return
        }
        // Already answered (a CONNECT's tunnel bytes, a second refusal): the connection is closing.
        guard !refusing else { return }
        disarm()
        // A response already under way cannot be followed by another: just close.
        guard open == 0 else {
            context.close(promise: nil)
            return
        }
        refusing = true
        switch parserError {
        case .headerOverflow:
            respond(
                context, status: .requestHeaderFieldsTooLarge,
                ErrorBody(code: "HEADERS_TOO_LARGE", message: "the request head is larger than the server accepts"))
        default:
            respond(
                context, status: .badRequest,
                ErrorBody(code: "BAD_REQUEST", message: "the request is not valid HTTP/1.1: \(parserError)"))
        }
    }

    /// Answers with Mesa's error body and closes the connection.
    private func respond(_ context: ChannelHandlerContext, status: HTTPResponse.Status, _ body: ErrorBody) {
        let bytes = body.jsonBytes
        var fields = HTTPFields()
        fields[.contentType] = "application/json"
        fields[.contentLength] = String(bytes.count)
        fields[.connection] = "close"
        context.write(wrapOutboundOut(.head(HTTPResponse(status: status, headerFields: fields))), promise: nil)
        context.write(wrapOutboundOut(.body(ByteBuffer(bytes: bytes))), promise: nil)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
    }

    private func arm(_ context: ChannelHandlerContext) {
        disarm()
        let channel = context.channel
        timer = context.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
    }

    private func disarm() {
        timer?.cancel()
        timer = nil
    }
}
