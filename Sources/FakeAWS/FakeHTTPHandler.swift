import NIOCore
import NIOHTTP1

/// One connection's requests: gathers each body, asks the fake, writes the answer (at once, or
/// when a long poll or a latency timer completes). Keep-alive unless the client asks otherwise.
final class FakeHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let fake: FakeAWS
    /// The listener port the connection came in on.
    private let port: Int
    private var target: String?
    private var body = ByteBuffer()
    private var keepAlive = true
    private var version = HTTPVersion.http1_1
    /// The long poll this connection has parked, ended if the connection closes first.
    private var waiter: Int?
    private var requestCount = 0

    init(fake: FakeAWS, port: Int) {
        self.fake = fake
        self.port = port
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            target = head.headers.first(name: "x-amz-target")
            keepAlive = head.isKeepAlive
            version = head.version
            body.clear()
        case .body(var chunk):
            body.writeBuffer(&chunk)
        case .end:
            switch fake.handle(target: target, body: body, on: context.eventLoop, port: port) {
            case .now(let reply):
                respond(reply, context: context)
            case .later(let future, let waiter):
                self.waiter = waiter
                future.hop(to: context.eventLoop).assumeIsolated().whenSuccess { reply in
                    self.waiter = nil
                    self.respond(reply, context: context)
                }
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let waiter { fake.endWait(waiter) }
        waiter = nil
        context.fireChannelInactive()
    }

    private func respond(_ reply: FakeReply, context: ChannelHandlerContext) {
        guard context.channel.isActive else { return }
        if reply.dropsConnection {
            context.close(promise: nil)
            return
        }
        requestCount += 1
        var headers = HTTPHeaders()
        headers.reserveCapacity(4 + reply.headers.count)
        headers.add(name: "content-type", value: "application/x-amz-json-1.0")
        headers.add(name: "content-length", value: String(reply.body.count))
        headers.add(name: "x-amzn-requestid", value: "fake-\(requestCount)")
        for header in reply.headers { headers.add(name: header.name, value: header.value) }
        if !keepAlive { headers.add(name: "connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: version, status: reply.status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: reply.body)))), promise: nil)
        if keepAlive {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        } else {
            context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
    }
}
