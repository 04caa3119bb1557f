import EdgeInsightCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A blocking TCP socket, enough for a measuring probe that must not share an event loop with what
/// it measures.
final class ProbeSocket: @unchecked Sendable {
    let fd: Int32

    init(fd: Int32) { self.fd = fd }

    /// Connects to an IPv4 address.
    static func connect(to address: HostPort) throws(LinkError) -> ProbeSocket {
        var hints = addrinfo()
        hints.ai_family = AF_INET
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(address.host, String(address.port), &hints, &result) == 0, let info = result else {
            throw .probeFailed("cannot resolve \(address.host)")
        }
        defer { freeaddrinfo(result) }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw .probeFailed("socket: \(String(cString: strerror(errno)))") }
        guard Glibc.connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw .probeFailed("cannot connect to \(address): \(reason)")
        }
        let socket = ProbeSocket(fd: fd)
        socket.setNoDelay()
        return socket
    }

    func setNoDelay() {
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    func send(_ bytes: UnsafeRawBufferPointer) throws(LinkError) {
        var offset = 0
        while offset < bytes.count {
            let sent = Glibc.send(fd, bytes.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
            if sent < 0, errno == EINTR { continue }
            guard sent > 0 else { throw .probeFailed("send: \(String(cString: strerror(errno)))") }
            offset += sent
        }
    }

    func send(_ value: UInt64) throws(LinkError) {
        var little = value.littleEndian
        try withUnsafeBytes(of: &little) { (raw) throws(LinkError) in try send(raw) }
    }

    /// Reads up to `buffer.count` bytes; 0 means the peer closed.
    func receive(into buffer: UnsafeMutableRawBufferPointer) throws(LinkError) -> Int {
        while true {
            let count = recv(fd, buffer.baseAddress, buffer.count, 0)
            if count < 0, errno == EINTR { continue }
            guard count >= 0 else { throw .probeFailed("receive: \(String(cString: strerror(errno)))") }
            return count
        }
    }

    func receiveExactly(_ buffer: UnsafeMutableRawBufferPointer) throws(LinkError) {
        var offset = 0
        while offset < buffer.count {
            let count = try receive(into: UnsafeMutableRawBufferPointer(rebasing: buffer[offset...]))
            guard count > 0 else { throw .probeFailed("connection closed early") }
            offset += count
        }
    }

    func receiveUInt64() throws(LinkError) -> UInt64 {
        var value: UInt64 = 0
        try withUnsafeMutableBytes(of: &value) { (raw) throws(LinkError) in try receiveExactly(raw) }
        return UInt64(littleEndian: value)
    }

    deinit { close(fd) }
}

/// Probe data whose every byte depends on its offset, so moved chunks show.
enum ProbePattern {
    @inline(__always)
    static func byte(at offset: Int) -> UInt8 {
        // A byte of the 32-bit little-endian counter of the 4-byte word at this offset.
        UInt8(truncatingIfNeeded: (offset >> 2) >> ((offset & 3) * 8))
    }
}

/// The far end of a link measurement: echoes pings, swallows uploads (timing them), serves downloads.
///
/// Wire format: one mode byte, then `P` (echo single bytes until close), `U` or `O` (order-checked) + 8-byte length + data
/// (answered with the nanoseconds from first to last byte received, then from the 25% to the 75% mark), or `D` + 8-byte length (answered
/// with that many bytes).
public final class LinkSink: @unchecked Sendable {
    private let listener: Int32
    public let port: Int

    /// Listens on `address` (port 0 picks one) and serves each connection on its own thread.
    public init(listen address: HostPort) throws(LinkError) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(address.port).bigEndian)
        guard inet_pton(AF_INET, address.host == "localhost" ? "127.0.0.1" : address.host, &addr.sin_addr) == 1 else {
            Glibc.close(fd)
            throw .badAddress(address.description)
        }
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 512) == 0 else {
            let reason = String(cString: strerror(errno))
            Glibc.close(fd)
            throw .cannotListen("\(address): \(reason)")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = getsockname(fd, $0, &length) }
        }
        listener = fd
        port = Int(UInt16(bigEndian: addr.sin_port))
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    private func acceptLoop() {
        while true {
            let fd = accept(listener, nil, nil)
            if fd < 0 {
                if errno == EINTR { continue }
                return
            }
            let socket = ProbeSocket(fd: fd)
            socket.setNoDelay()
            Thread { Self.serve(socket) }.start()
        }
    }

    private static func serve(_ socket: ProbeSocket) {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 * 1024, alignment: 8)
        defer { buffer.deallocate() }
        do {
            guard try socket.receive(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<1])) == 1 else { return }
            switch buffer[0] {
            case UInt8(ascii: "P"):
                let one = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<1])
                while try socket.receive(into: one) == 1 { try socket.send(UnsafeRawBufferPointer(one)) }
            case UInt8(ascii: "U"), UInt8(ascii: "O"):
                let checkOrder = buffer[0] == UInt8(ascii: "O")
                let total = Int(clamping: try socket.receiveUInt64())
                var received = 0
                var first: UInt64 = 0, quarter: UInt64 = 0, threeQuarters: UInt64 = 0
                var inOrder = true
                while received < total {
                    let count = try socket.receive(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<min(buffer.count, total - received)]))
                    guard count > 0 else { return }
                    let now = MonotonicClock.now()
                    if first == 0 { first = now }
                    if checkOrder {
                        for index in 0..<count where buffer[index] != ProbePattern.byte(at: received + index) { inOrder = false }
                    }
                    received += count
                    if quarter == 0, received >= total / 4 { quarter = now }
                    if threeQuarters == 0, received >= total - total / 4 { threeQuarters = now }
                }
                try socket.send(inOrder ? MonotonicClock.now() - first : UInt64.max)
                try socket.send(threeQuarters - quarter)
            case UInt8(ascii: "D"):
                var remaining = Int(clamping: try socket.receiveUInt64())
                while remaining > 0 {
                    let count = min(buffer.count, remaining)
                    try socket.send(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
                    remaining -= count
                }
            default: return
            }
        } catch {
            return
        }
    }

    /// Stops accepting connections.
    public func close() { shutdown(listener, Int32(SHUT_RDWR)); Glibc.close(listener) }
}

/// Measurements through a link, against a `LinkSink` on the far side.
public enum LinkProbe {
    /// Round-trip times of `count` one-byte ping-pongs on one connection, in nanoseconds.
    public static func pingNs(_ address: HostPort, count: Int, gap: Duration = .milliseconds(5)) throws(LinkError) -> [UInt64] {
        let socket = try ProbeSocket.connect(to: address)
        var byte: UInt8 = UInt8(ascii: "P")
        try withUnsafeBytes(of: &byte) { (raw) throws(LinkError) in try socket.send(raw) }
        var times: [UInt64] = []
        times.reserveCapacity(count)
        for index in 0..<count {
            byte = UInt8(truncatingIfNeeded: index)
            let start = MonotonicClock.now()
            try withUnsafeBytes(of: &byte) { (raw) throws(LinkError) in try socket.send(raw) }
            var echoed: UInt8 = 0
            try withUnsafeMutableBytes(of: &echoed) { (raw) throws(LinkError) in try socket.receiveExactly(raw) }
            times.append(MonotonicClock.now() - start)
            guard echoed == byte else { throw .probeFailed("echo came back as \(echoed), sent \(byte)") }
            if gap > .zero { Thread.sleep(forTimeInterval: gap.seconds) }
        }
        return times
    }

    /// Sends `bytes` up; returns the receiver's nanoseconds from first to last byte. With
    /// `checkOrder` the data is a pattern no reordering of chunks can preserve, which the receiver
    /// checks byte by byte; out-of-order data is an error.
    public static func uploadNs(_ address: HostPort, bytes: Int, checkOrder: Bool = false) throws(LinkError) -> UInt64 {
        try upload(address, bytes: bytes, checkOrder: checkOrder).totalNs
    }

    /// How long the receiver took: for all the bytes, and for the middle half of them (which leaves out
    /// the spread of start and end times when many connections share a link).
    public struct UploadTiming: Sendable {
        public var totalNs: UInt64
        public var middleHalfNs: UInt64
    }

    /// Sends `bytes` up, in writes of at most `writeBytes` with `pause` after each (a sender whose
    /// bytes reach the link a few segments at a time, as they do behind a kernel-shaped link); the
    /// receiver's timings.
    public static func upload(_ address: HostPort, bytes: Int, checkOrder: Bool = false, writeBytes: Int = 64 * 1024,
                              pause: Duration = .zero) throws(LinkError) -> UploadTiming {
        guard writeBytes > 0 else { throw .probeFailed("an upload's writes need at least one byte each, not \(writeBytes)") }
        let socket = try ProbeSocket.connect(to: address)
        var mode = UInt8(ascii: checkOrder ? "O" : "U")
        try withUnsafeBytes(of: &mode) { (raw) throws(LinkError) in try socket.send(raw) }
        try socket.send(UInt64(bytes))
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 8)
        defer { chunk.deallocate() }
        var sent = 0
        while sent < bytes {
            let count = min(chunk.count, writeBytes, bytes - sent)
            if checkOrder || sent == 0 {
                for index in 0..<count { chunk[index] = ProbePattern.byte(at: sent + index) }
            }
            try socket.send(UnsafeRawBufferPointer(rebasing: chunk[0..<count]))
            sent += count
            if pause > .zero { Thread.sleep(forTimeInterval: pause.seconds) }
        }
        let elapsed = try socket.receiveUInt64()
        guard elapsed != UInt64.max else { throw .probeFailed("the receiver saw bytes out of order") }
        return UploadTiming(totalNs: elapsed, middleHalfNs: try socket.receiveUInt64())
    }

    /// Asks for `bytes` down; returns the nanoseconds from first to last byte received.
    public static func downloadNs(_ address: HostPort, bytes: Int) throws(LinkError) -> UInt64 {
        let socket = try ProbeSocket.connect(to: address)
        var mode = UInt8(ascii: "D")
        try withUnsafeBytes(of: &mode) { (raw) throws(LinkError) in try socket.send(raw) }
        try socket.send(UInt64(bytes))
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 * 1024, alignment: 8)
        defer { buffer.deallocate() }
        var remaining = bytes
        var first: UInt64 = 0
        while remaining > 0 {
            let count = try socket.receive(into: buffer)
            guard count > 0 else { throw .probeFailed("connection closed after \(bytes - remaining) of \(bytes) bytes") }
            if first == 0 { first = MonotonicClock.now() }
            remaining -= count
        }
        return MonotonicClock.now() - first
    }

    /// `connections` uploads of `bytes` each, at once, on their own threads; each one's receiver timings.
    public static func uploads(_ address: HostPort, bytes: Int, connections: Int, checkOrder: Bool = false) throws(LinkError) -> [UploadTiming] {
        try inParallel(connections) { _ throws(LinkError) in try upload(address, bytes: bytes, checkOrder: checkOrder) }
    }

    /// `connections` uploads that send until stopped: every connection stays backlogged however late
    /// a busy machine starts its thread, so shares measured between any two moments after all have
    /// begun are the link's doing, not the senders'.
    public static func continuousUploads(_ address: HostPort, connections: Int) throws(LinkError) -> ContinuousUploads {
        var sockets: [ProbeSocket] = []
        for _ in 0..<connections { sockets.append(try ProbeSocket.connect(to: address)) }
        return ContinuousUploads(sockets)
    }

    /// Upload threads started by `continuousUploads`; `stop()` ends them.
    public final class ContinuousUploads: @unchecked Sendable {
        private let sockets: [ProbeSocket]
        private let done = DispatchGroup()

        fileprivate init(_ sockets: [ProbeSocket]) {
            self.sockets = sockets
            for socket in sockets {
                done.enter()
                Thread { [done] in
                    defer { done.leave() }
                    let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 8)
                    defer { chunk.deallocate() }
                    chunk.initializeMemory(as: UInt8.self, repeating: 0)
                    var mode = UInt8(ascii: "U")
                    do throws(LinkError) {
                        try withUnsafeBytes(of: &mode) { (raw) throws(LinkError) in try socket.send(raw) }
                        try socket.send(UInt64.max)
                        while true { try socket.send(UnsafeRawBufferPointer(chunk)) }
                    } catch {
                        return  // stopped: the socket was shut down under the send
                    }
                }.start()
            }
        }

        /// Shuts every socket down (a blocked send fails at once) and waits for the threads.
        public func stop() {
            for socket in sockets { shutdown(socket.fd, Int32(SHUT_RDWR)) }
            done.wait()
        }
    }

    /// `connections` downloads of `bytes` each, at once; each one's first-to-last-byte time.
    public static func downloadsNs(_ address: HostPort, bytes: Int, connections: Int) throws(LinkError) -> [UInt64] {
        try inParallel(connections) { _ throws(LinkError) in try downloadNs(address, bytes: bytes) }
    }

    /// Runs blocking measurements on threads of their own (not a shared pool, which would serialise them).
    private static func inParallel<T: Sendable>(_ count: Int, _ body: @escaping @Sendable (Int) throws(LinkError) -> T) throws(LinkError) -> [T] {
        let slots = Slots<T>(count: count)
        let group = DispatchGroup()
        for index in 0..<count {
            group.enter()
            Thread {
                do throws(LinkError) { slots.set(index, .success(try body(index))) } catch { slots.set(index, .failure(error)) }
                group.leave()
            }.start()
        }
        group.wait()
        return try slots.values()
    }

    /// Results written by measurement threads, each to its own slot.
    private final class Slots<T: Sendable>: @unchecked Sendable {
        private var slots: [Result<T, LinkError>?]
        private let lock = NSLock()
        init(count: Int) { slots = Array(repeating: nil, count: count) }
        func set(_ index: Int, _ value: Result<T, LinkError>) { lock.withLock { slots[index] = value } }
        func values() throws(LinkError) -> [T] {
            let copy = lock.withLock { slots }
            return try copy.map { (slot) throws(LinkError) in try slot!.get() }
        }
    }
}
