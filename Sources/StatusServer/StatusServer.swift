public import Logging
public import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// What the listener answers to one request: a status code, a content type and a body.
public struct StatusResponse: Sendable, Equatable {
    public var status: Int
    public var contentType: String
    public var body: [UInt8]

    public init(status: Int, contentType: String, body: [UInt8]) {
        self.status = status
        self.contentType = contentType
        self.body = body
    }

    /// `404 Not Found`, plain text.
    public static let notFound = StatusResponse(status: 404, contentType: "text/plain; charset=utf-8", body: Array("not found\n".utf8))
}

/// The operator's HTTP listener: GET requests answered from a synchronous, cheap route function
/// (metrics text, health checks), on an event loop thread of its own, so no client, however slow
/// or hostile, touches the relay's threads.
///
/// Each connection carries one request: the response closes it. A connection gets
/// ``Limits/requestTimeout`` from accept to its response, whatever it sends (slowloris ends there);
/// headers are bounded by ``Limits/maxHeaderBytes`` (NIO's parser refuses more, with a 400); a body
/// is refused; beyond ``Limits/maxConnections`` open at once, new connections are closed on accept.
public final class StatusServer: Sendable {
    /// The bounds one client or many are held to.
    public struct Limits: Sendable, Equatable {
        public var maxConnections: Int
        public var requestTimeout: TimeAmount
        public var maxHeaderBytes: Int

        public init(maxConnections: Int = 64, requestTimeout: TimeAmount = .seconds(5), maxHeaderBytes: Int = 8_192) {
            self.maxConnections = maxConnections
            self.requestTimeout = requestTimeout
            self.maxHeaderBytes = maxHeaderBytes
        }
    }

    /// The request a route sees: its method and path (the query string removed).
    public struct Request: Sendable, Equatable {
        public var method: String
        public var path: String
    }

    /// The address the listener is bound to (the chosen port when port 0 was asked for).
    public let host: String
    public let port: Int
    private let group: MultiThreadedEventLoopGroup
    private let channel: any Channel
    private let open: OpenConnections

    /// Binds `host:port` and starts answering with `route`. The route runs on the listener's
    /// event loop: it must not block.
    public static func start(
        host: String, port: Int, limits: Limits = Limits(), logger: Logger,
        route: @escaping @Sendable (Request) -> StatusResponse
    ) async throws -> StatusServer {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let open = OpenConnections()
        let decoderLimits = {
            var configuration = NIOHTTPDecoderLimitConfiguration()
            configuration.maxHeaderFieldSize = limits.maxHeaderBytes
            configuration.maxHeaderListSize = limits.maxHeaderBytes
            configuration.maxHeaderFieldCount = 64
            return configuration
        }()
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 1)
            .childChannelInitializer { channel in
                let count = open.opened()
                channel.closeFuture.whenComplete { _ in open.closed() }
                guard count <= limits.maxConnections else { return channel.close() }
                let deadline = channel.eventLoop.scheduleTask(in: limits.requestTimeout) { channel.close(promise: nil) }
                channel.closeFuture.whenComplete { _ in deadline.cancel() }
                return channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    try pipeline.addHandler(HTTPResponseEncoder())
                    try pipeline.addHandler(ByteToMessageHandler(HTTPRequestDecoder(limitConfiguration: decoderLimits)))
                    try pipeline.addHandler(HTTPServerProtocolErrorHandler())
                    try pipeline.addHandler(RequestHandler(route: route))
                }
            }
        do {
            let channel = try await bootstrap.bind(host: host, port: port).get()
            let bound = channel.localAddress
            let server = StatusServer(host: bound?.ipAddress ?? host, port: bound?.port ?? port, group: group, channel: channel, open: open)
            logger.info("http.listening", metadata: ["http.address": "\(server.address)"])
            return server
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
    }

    private init(host: String, port: Int, group: MultiThreadedEventLoopGroup, channel: any Channel, open: OpenConnections) {
        self.host = host
        self.port = port
        self.group = group
        self.channel = channel
        self.open = open
    }

    /// `HOST:PORT`, IPv6 hosts in brackets.
    public var address: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Connections open now (those refused on accept included until they close).
    public var openConnections: Int { open.count }

    /// Stops listening, closes what is open and ends the event loop thread.
    public func close() async {
        try? await channel.close()
        try? await group.shutdownGracefully()
    }
}

/// A count of open connections, shared by the accepting closures.
final class OpenConnections: Sendable {
    private let value = Atomic<Int>(0)

    func opened() -> Int { value.wrappingAdd(1, ordering: .relaxed).newValue }
    func closed() { value.wrappingSubtract(1, ordering: .relaxed) }
    var count: Int { value.load(ordering: .relaxed) }
}

/// Answers the one request of a connection, then closes it.
final class RequestHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let route: @Sendable (StatusServer.Request) -> StatusResponse
    private var head: HTTPRequestHead?
    private var refused: StatusResponse?
    private var answered = false

    init(route: @escaping @Sendable (StatusServer.Request) -> StatusResponse) {
        self.route = route
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !answered else { return }
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            if head.method != .GET && head.method != .HEAD {
                refused = StatusResponse(status: 405, contentType: "text/plain; charset=utf-8", body: Array("only GET\n".utf8))
            }
        case .body:
            // Nothing here takes a body: answer at once rather than read it.
            respond(context: context, StatusResponse(status: 413, contentType: "text/plain; charset=utf-8", body: Array("no body accepted\n".utf8)))
        case .end:
            guard let head else { return }
            if let refused { return respond(context: context, refused) }
            let path = head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? head.uri
            var response = route(StatusServer.Request(method: "GET", path: path))
            if head.method == .HEAD { response.body = [] }
            respond(context: context, response)
        }
    }

    private func respond(context: ChannelHandlerContext, _ response: StatusResponse) {
        answered = true
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: response.contentType)
        headers.add(name: "Content-Length", value: String(response.body.count))
        headers.add(name: "Connection", value: "close")
        let version = head?.version ?? .http1_1
        let status = HTTPResponseStatus(statusCode: response.status)
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: version, status: status, headers: headers))), promise: nil)
        if !response.body.isEmpty {
            var buffer = context.channel.allocator.buffer(capacity: response.body.count)
            buffer.writeBytes(response.body)
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        }
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
