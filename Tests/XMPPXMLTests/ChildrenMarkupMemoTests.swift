import Testing
@testable import XMPPXML

/// `XMLSerializer.write(_:inheritedNamespace:into:memo:)`: the same bytes as a plain write, whatever
/// was written before, and the children's markup reused only for the very same children.
@Suite struct ChildrenMarkupMemoTests {
    let serializer = XMLSerializer()

    func plain(_ element: XElement, _ inherited: String = "jabber:client", with serializer: XMLSerializer? = nil) -> [UInt8] {
        var bytes: [UInt8] = []
        (serializer ?? self.serializer).write(element, inheritedNamespace: inherited, into: &bytes)
        return bytes
    }

    func memoized(_ element: XElement, _ inherited: String = "jabber:client", with serializer: XMLSerializer? = nil,
                  memo: inout ChildrenMarkupMemo) -> [UInt8] {
        var bytes: [UInt8] = []
        (serializer ?? self.serializer).write(element, inheritedNamespace: inherited, into: &bytes, memo: &memo)
        #expect(bytes == plain(element, inherited, with: serializer), "\(String(decoding: bytes, as: UTF8.self))")
        return bytes
    }

    var presence: XElement {
        XElement("presence", namespace: "jabber:client", ["from": "alice@example.com/phone"])
            .appending(XElement("show", namespace: "jabber:client", children: [.text("away")]))
            .appending(XElement("status", namespace: "jabber:client", children: [.text("at <lunch> & back soon")]))
    }

    @Test func aBroadcastWritesEachCopyRightAndItsChildrenOnce() {
        var memo = ChildrenMarkupMemo()
        let presence = self.presence
        for contact in ["bob@example.com", "carol@example.com", "dave@example.net"] {
            var copy = presence
            copy[attribute: "to"] = contact
            let text = String(decoding: memoized(copy, memo: &memo), as: UTF8.self)
            #expect(text == "<presence from='alice@example.com/phone' to='\(contact)'><show>away</show>"
                + "<status>at &lt;lunch&gt; &amp; back soon</status></presence>")
        }
        #expect(memo.reuses == 2)
    }

    @Test func changedChildrenAreWrittenAgain() {
        var memo = ChildrenMarkupMemo()
        let presence = self.presence
        _ = memoized(presence, memo: &memo)
        var changed = presence
        changed.children[0] = .element(XElement("show", namespace: "jabber:client", children: [.text("dnd")]))
        #expect(String(decoding: memoized(changed, memo: &memo), as: UTF8.self).contains("<show>dnd</show>"))
        // Equal children in storage of their own are written again too (only identity is trusted).
        _ = memoized(self.presence, memo: &memo)
        #expect(memo.reuses == 0)
    }

    @Test func theChildrensNamespaceContextIsPartOfTheMatch() {
        var memo = ChildrenMarkupMemo()
        let query = XElement("query", namespace: "urn:a").appending(XElement("item", namespace: "urn:a"))
        #expect(memoized(query, memo: &memo) == Array("<query xmlns='urn:a'><item/></query>".utf8))
        var moved = query
        moved.namespace = "urn:z"
        #expect(memoized(moved, memo: &memo) == Array("<query xmlns='urn:z'><item xmlns='urn:a'/></query>".utf8))

        let prefixed = XMLSerializer(declaredPrefixes: [XMLNamespace.streams: "stream", "urn:a": "a"])
        let wrapper = XElement("wrapper", namespace: "urn:w").appending(XElement("item", namespace: "urn:a"))
        _ = memoized(wrapper, memo: &memo)
        #expect(memoized(wrapper, with: prefixed, memo: &memo) == Array("<wrapper xmlns='urn:w'><a:item/></wrapper>".utf8))
        #expect(memo.reuses == 0)
    }

    @Test func generatedPrefixesAreNumberedAsInAPlainWrite() {
        var memo = ChildrenMarkupMemo()
        let element = XElement("x", namespace: "urn:x")
            .appending(XElement("y", namespace: "urn:x", attributes: [XAttribute(name: "b", namespace: "urn:r", value: "2")]))
        _ = memoized(element, memo: &memo)
        var qualified = element
        qualified.attributes.append(XAttribute(name: "a", namespace: "urn:q", value: "1"))
        let text = String(decoding: memoized(qualified, memo: &memo), as: UTF8.self)
        #expect(text.contains("xmlns:ns1='urn:q'") && text.contains("xmlns:ns2='urn:r'"))
        #expect(memo.reuses == 0)
    }

    @Test func largeChildrenAreNotKept() {
        var memo = ChildrenMarkupMemo()
        let big = XElement("message", namespace: "jabber:client")
            .appending(XElement("body", namespace: "jabber:client", children: [.text(String(repeating: "x", count: 5000))]))
        _ = memoized(big, memo: &memo)
        _ = memoized(big, memo: &memo)
        #expect(memo.reuses == 0)
        #expect(memo.markup.isEmpty)
    }
}
