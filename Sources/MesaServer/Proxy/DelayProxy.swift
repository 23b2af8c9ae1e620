package import NIOCore
import NIOPosix

// A TCP proxy that adds a fixed one-way delay in each direction, for benchmarks at a realistic round-trip time on
// loopback (this kernel has no `tc netem`). Every byte read from one side is written to the other `delay` later, in
// order: each direction keeps a FIFO of (deadline, bytes) and one scheduled flush at the head's deadline, so equal
// deadlines can never reorder data. A new connection costs one extra round trip, as over a real network: the
// upstream connection is opened only after 2 x delay, and bytes the client sends meanwhile wait for it.
//
// It lives in MesaServer because this module owns the NIO dependency; `mesa debug delay-proxy` runs it. Not for
// production: there is no back-pressure beyond NIO's own, which loopback consumers never need.

/// A running delay proxy.
package final class DelayProxy: Sendable {
    /// The port the proxy listens on.
    package let port: Int
    private let channel: any Channel

    private init(port: Int, channel: any Channel) {
        self.port = port
        self.channel = channel
    }

    /// Starts a proxy on `host:port` (0 picks a free port) forwarding to `upstreamHost:upstreamPort`.
    package static func start(
        host: String, port: Int, upstreamHost: String, upstreamPort: Int, delay: TimeAmount,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> DelayProxy {
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { inbound in
                inbound.eventLoop.makeCompletedFuture {
                    try inbound.pipeline.syncOperations.addHandler(
                        ClientSideHandler(upstreamHost: upstreamHost, upstreamPort: upstreamPort, delay: delay))
                }
            }
            .bind(host: host, port: port)
            .get()
        return DelayProxy(port: channel.localAddress?.port ?? port, channel: channel)
    }

    /// Stops accepting connections.
    package func close() async throws {
        try await channel.close()
    }

    /// Waits until the listening socket closes.
    package func wait() async throws {
        try await channel.closeFuture.get()
    }
}

/// A FIFO of bytes due at deadlines, flushed to a channel in order.
// SAFETY: a writer belongs to one proxied connection and is touched only on that connection's event loop (both of its
// channels live on it: the upstream connection is made with `ClientBootstrap(group: eventLoop)`), so it is never
// accessed concurrently although NIO's closures require `Sendable`.
private final class DelayedWriter: @unchecked Sendable {
    private var queue: [(deadline: NIODeadline, buffer: ByteBuffer)] = []
    private var scheduled = false
    private var closeWhenDrained = false
    private let delay: TimeAmount
    private let eventLoop: any EventLoop
    /// Bytes sent before this instant (while the connection is being set up) leave only once it has passed.
    private let notBefore: NIODeadline
    var target: (any Channel)?

    init(delay: TimeAmount, eventLoop: any EventLoop, notBefore: NIODeadline = .uptimeNanoseconds(0)) {
        self.delay = delay
        self.eventLoop = eventLoop
        self.notBefore = notBefore
    }

    func enqueue(_ buffer: ByteBuffer) {
        queue.append((max(.now(), notBefore) + delay, buffer))
        schedule()
    }

    func closeAfterDrain() {
        closeWhenDrained = true
        if queue.isEmpty, !scheduled { target?.close(promise: nil) }
    }

    func schedule() {
        guard !scheduled, target != nil, let head = queue.first else { return }
        scheduled = true
        eventLoop.scheduleTask(deadline: head.deadline) { [self] in
            scheduled = false
            let now = NIODeadline.now()
            var wrote = false
            while let first = queue.first, first.deadline <= now {
                queue.removeFirst()
                target?.write(first.buffer, promise: nil)
                wrote = true
            }
            if wrote { target?.flush() }
            if queue.isEmpty, closeWhenDrained { target?.close(promise: nil) } else { schedule() }
        }
    }
}

/// The client's side of one proxied connection.
private final class ClientSideHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let upstreamHost: String
    private let upstreamPort: Int
    private let delay: TimeAmount
    private var toUpstream: DelayedWriter?
    private var toClient: DelayedWriter?

    init(upstreamHost: String, upstreamPort: Int, delay: TimeAmount) {
        self.upstreamHost = upstreamHost
        self.upstreamPort = upstreamPort
        self.delay = delay
    }

    func channelActive(context: ChannelHandlerContext) {
        let eventLoop = context.eventLoop
        let client = context.channel
        // Like TCP over a real link: the handshake takes a round trip, then data travels one way.
        let toUpstream = DelayedWriter(delay: delay, eventLoop: eventLoop, notBefore: .now() + delay * 2)
        let toClient = DelayedWriter(delay: delay, eventLoop: eventLoop)
        toClient.target = client
        self.toUpstream = toUpstream
        self.toClient = toClient
        // One extra round trip for the new connection, then connect upstream on the same event loop.
        let host = upstreamHost
        let port = upstreamPort
        eventLoop.scheduleTask(in: delay * 2) {
            ClientBootstrap(group: eventLoop)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { upstream in
                    upstream.eventLoop.makeCompletedFuture {
                        try upstream.pipeline.syncOperations.addHandler(UpstreamHandler(toClient: toClient))
                    }
                }
                .connect(host: host, port: port)
                .whenComplete { result in
                    switch result {
                    case .success(let upstream):
                        toUpstream.target = upstream
                        toUpstream.schedule()
                    case .failure:
                        client.close(promise: nil)
                    }
                }
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        toUpstream?.enqueue(unwrapInboundIn(data))
    }

    func channelInactive(context: ChannelHandlerContext) {
        toUpstream?.closeAfterDrain()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

/// The upstream side of one proxied connection.
private final class UpstreamHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    private let toClient: DelayedWriter

    init(toClient: DelayedWriter) { self.toClient = toClient }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        toClient.enqueue(unwrapInboundIn(data))
    }

    func channelInactive(context: ChannelHandlerContext) {
        toClient.closeAfterDrain()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
