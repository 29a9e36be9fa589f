import Testing
@testable import XMPPXML

@Suite struct XMLSerializerTests {
    let serializer = XMLSerializer()

    /// The text form, checked against the UTF-8 form connections write, which must be the same bytes.
    func serialize(_ element: XElement, inheritedNamespace: String) -> String {
        let text = serializer.serialize(element, inheritedNamespace: inheritedNamespace)
        var bytes: [UInt8] = [0x20]
        serializer.write(element, inheritedNamespace: inheritedNamespace, into: &bytes)
        #expect(bytes == [0x20] + Array(text.utf8), "the byte output appends exactly the text's UTF-8")
        return text
    }

    @Test func escapesTextAndAttributes() {
        var message = XElement("message", namespace: "jabber:client", ["to": "a'b\"c<d>&e"])
        message.append(XElement("body", namespace: "jabber:client", children: [.text("1 < 2 & 3 > 2 'q' \"d\"")]))
        #expect(serialize(message, inheritedNamespace: "jabber:client") ==
            "<message to='a&apos;b&quot;c&lt;d&gt;&amp;e'><body>1 &lt; 2 &amp; 3 &gt; 2 &apos;q&apos; &quot;d&quot;</body></message>")
    }

    @Test func declaresNamespacesOnlyWhereTheyChange() {
        let iq = XElement("iq", namespace: "jabber:client", ["type": "result"])
            .appending(XElement("query", namespace: "jabber:iq:roster").appending(XElement("item", namespace: "jabber:iq:roster", ["jid": "a@b"])))
        #expect(serialize(iq, inheritedNamespace: "jabber:client") ==
            "<iq type='result'><query xmlns='jabber:iq:roster'><item jid='a@b'/></query></iq>")
    }

    @Test func stanzaNamespacesAreInterchangeable() {
        let message = XElement("message", namespace: "jabber:server")
        #expect(serialize(message, inheritedNamespace: "jabber:client") == "<message/>")
    }

    @Test func streamElementsUseTheStreamPrefix() {
        let features = XElement("features", namespace: XMLNamespace.streams)
            .appending(XElement("bind", namespace: "urn:ietf:params:xml:ns:xmpp-bind"))
        #expect(serialize(features, inheritedNamespace: "jabber:client") ==
            "<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>")
    }

    @Test func qualifiedAttributes() {
        let element = XElement("body", namespace: "jabber:client", attributes: [
            XAttribute(name: "lang", namespace: XMLNamespace.xml, value: "en"),
            XAttribute(name: "a", namespace: "urn:x", value: "1"),
        ])
        #expect(serialize(element, inheritedNamespace: "jabber:client") == "<body xml:lang='en' xmlns:ns1='urn:x' ns1:a='1'/>")
    }

    @Test func whitespaceIsEscapedInAttributesButOnlyCRInText() {
        let element = XElement("x", namespace: "urn:x", attributes: [XAttribute(name: "v", value: "a\tb\nc\rd é")],
                               children: [.text("1\t2\n3\r4 😀 &")])
        #expect(serialize(element, inheritedNamespace: "jabber:client") ==
            "<x xmlns='urn:x' v='a&#x9;b&#xA;c&#xD;d é'>1\t2\n3&#xD;4 😀 &amp;</x>")
        #expect(serialize(XElement("e", namespace: "jabber:client", ["a": ""]), inheritedNamespace: "jabber:client") == "<e a=''/>")
    }

    @Test func roundTripsThroughTheParser() throws {
        var message = XElement("message", namespace: "jabber:client", ["id": "1", "type": "chat"])
        message.append(XElement("body", namespace: "jabber:client", children: [.text("héllo <&> 😀")]))
        message.append(XElement("x", namespace: "urn:example", attributes: [XAttribute(name: "k", namespace: "urn:other", value: "v'")]))
        let text = serialize(message, inheritedNamespace: "jabber:client")
        let parser = XMLStreamParser()
        _ = try parser.feed("<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>")
        let events = try parser.feed(text)
        #expect(events == [.element(message)])
    }
}

@Suite struct XMLWhitespaceRoundTripTests {
    @Test func whitespaceSurvivesAParserRoundTrip() throws {
        let message = XElement("message", namespace: "jabber:client", attributes: [XAttribute(name: "x", value: "a\tb\nc\rd")],
                               children: [.element(XElement("body", namespace: "jabber:client", children: [.text("line1\r\nline2\tend")]))])
        let text = XMLSerializer().serialize(message, inheritedNamespace: "jabber:client")
        let parser = XMLStreamParser()
        _ = try parser.feed("<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>")
        #expect(try parser.feed(text) == [.element(message)])
    }
}
