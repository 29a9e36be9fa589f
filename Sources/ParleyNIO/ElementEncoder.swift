import NIOCore
import XMPPXML

/// Serialises elements into `ByteBuffer`s through one reusable byte array per event loop.
///
/// Each routed stanza is serialised once per recipient. Writing UTF-8 bytes straight into a scratch
/// array that keeps its capacity, then copying them once into the buffer the channel writes, costs
/// less than building a `String` and copying that; and one scratch per loop, not per connection,
/// keeps idle sessions small. The children of the last element written are remembered
/// (`ChildrenMarkupMemo`): a presence broadcast writes the same element to each contact with only
/// its `to` changed. Use only on the loop it belongs to.
public final class ElementEncoder {
    private static let encoders = PerEventLoop { _ in ElementEncoder() }
    /// A scratch array that grew past this (a large stanza) is let go rather than kept for good.
    private static let keptCapacity = 64 * 1024
    private var scratch: [UInt8] = []
    private var memo = ChildrenMarkupMemo()

    private init() {}

    /// The encoder of the calling event loop.
    public static func current(on eventLoop: any EventLoop) -> ElementEncoder {
        encoders.current(on: eventLoop)
    }

    /// Appends `element`'s markup to `buffer`, which is allocated to fit it when nil.
    public func encode(
        _ element: XElement, with serializer: XMLSerializer, inheritedNamespace: String,
        appendingTo buffer: inout ByteBuffer?, allocator: ByteBufferAllocator
    ) {
        scratch.removeAll(keepingCapacity: true)
        serializer.write(element, inheritedNamespace: inheritedNamespace, into: &scratch, memo: &memo)
        if buffer == nil { buffer = allocator.buffer(capacity: scratch.count) }
        buffer!.writeBytes(scratch)
        if scratch.capacity > Self.keptCapacity { scratch = [] }
    }
}
