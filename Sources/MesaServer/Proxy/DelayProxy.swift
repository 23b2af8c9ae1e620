package import NIOCore
import NIOPosix
import Synchronization

// A TCP proxy that adds a fixed one-way delay in each direction, for benchmarks at a realistic round-trip time on
// loopback (this kernel has no `tc netem`). Every byte read from one side is written to the other `delay` later, in
// order: each direction keeps a FIFO of (deadline, bytes) and one scheduled flush at the head's deadline, so equal
// deadlines can never reorder data. A new connection costs one extra round trip, as over a real network: the
// upstream connection is opened only after 2 x delay, and bytes the client sends meanwhile wait for it.
//
// Fault injection: with an ``AnswerDrop``, a connection whose client bytes contain a pattern (a request line such as
// `/sync/push`) loses its answer: the request reaches the server whole, and when the server answers, the client's
// connection is closed with none of it, as when a network fails after a request was sent. The first `count` such
// connections are affected, then the proxy forwards normally again.
//
// It lives in MesaServer because this module owns the NIO dependency; `mesa debug delay-proxy` runs it. Not for
// production: there is no back-pressure beyond NIO's own, which loopback consumers never need.

/// Which answers a proxy drops: those of the first `count` connections whose client bytes contain `pattern`.
package final class AnswerDrop: Sendable {
    /// The bytes that mark a request whose answer is dropped.
    let pattern: [UInt8]
    private let remaining: Atomic<Int>

    /// Drops the answers of the first `count` connections that send `pattern`.
    package init(pattern: String, count: Int) {
        self.pattern = Array(pattern.utf8)
        remaining = Atomic(count)
    }

    /// Takes one drop from the budget.
    /// - Returns: whether one was left.
    func take() -> Bool {
        var current = remaining.load(ordering: .relaxed)
        while current > 0 {
            let (exchanged, original) = remaining.compareExchange(
                expected: current, desired: current - 1, ordering: .relaxed)
            if exchanged { return true }
            current = original
        }
        return false
    }
}

/// A running delay proxy.
package final class DelayProxy: Sendable {
    /// The port the proxy listens on.
    package let port: Int
    private let channel: any Channel

    private init(port: Int, channel: any Channel) {
        self.port = port
        self.channel = channel
    }

    /// Starts a proxy on `host:port` (0 picks a free port) forwarding to `upstreamHost:upstreamPort`, dropping the
    /// answers `drop` names.
    package static func start(
        host: String, port: Int, upstreamHost: String, upstreamPort: Int, delay: TimeAmount, drop: AnswerDrop? = nil,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> DelayProxy {
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { inbound in
                inbound.eventLoop.makeCompletedFuture {
                    try inbound.pipeline.syncOperations.addHandler(
                        ClientSideHandler(
                            upstreamHost: upstreamHost, upstreamPort: upstreamPort, delay: delay, drop: drop))
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
    /// Set when this direction's bytes are to be dropped: the next bytes close the target instead.
    var dropping = false
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
        if dropping {
            queue.removeAll()
            target?.close(promise: nil)
            return
        }
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
    private let drop: AnswerDrop?
    /// The last bytes the client sent, to find a pattern split across reads.
    private var recent: [UInt8] = []
    private var toUpstream: DelayedWriter?
    private var toClient: DelayedWriter?

    init(upstreamHost: String, upstreamPort: Int, delay: TimeAmount, drop: AnswerDrop?) {
        self.upstreamHost = upstreamHost
        self.upstreamPort = upstreamPort
        self.delay = delay
        self.drop = drop
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
        let buffer = unwrapInboundIn(data)
        if let drop, let toClient, !toClient.dropping {
            recent += buffer.readableBytesView
            let pattern = drop.pattern
            if recent.count >= pattern.count,
                (0...(recent.count - pattern.count)).contains(where: { recent[$0..<$0 + pattern.count].elementsEqual(pattern) }),
                drop.take()
            {
                toClient.dropping = true
            }
            recent = Array(recent.suffix(max(0, pattern.count - 1)))
        }
        toUpstream?.enqueue(buffer)
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
