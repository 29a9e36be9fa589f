import ParleyStorage
import Testing
import XMPPXML

@Suite("StoredXML")
struct StoredXMLTests {
    @Test func roundTripsRichXML() throws {
        let element = richStoredElement("vCard", namespace: "vcard-temp")
        let text = StoredXML.encode(element)
        #expect(try StoredXML.decode(text) == element)
        #expect(StoredXML.byteCount(of: element) == text.utf8.count)
    }

    @Test func roundTripsElementsInStreamNamespaces() throws {
        // No prefix is assumed for the streams namespace, and stanza namespaces are written out.
        let error = XElement("error", namespace: "http://etherx.jabber.org/streams",
                             children: [.element(XElement("conflict", namespace: "urn:ietf:params:xml:ns:xmpp-streams"))])
        #expect(try StoredXML.decode(StoredXML.encode(error)) == error)
        let message = XElement("message", namespace: "jabber:client", ["to": "a@b"],
                               children: [.element(XElement("body", namespace: "jabber:client", children: [.text("hi")]))])
        #expect(try StoredXML.decode(StoredXML.encode(message)) == message)
        let unqualified = XElement("plain", namespace: "")
        #expect(try StoredXML.decode(StoredXML.encode(unqualified)) == unqualified)
    }

    @Test func storesLargeAndDeepElements() throws {
        var deep = XElement("leaf", namespace: "urn:x")
        for _ in 0..<200 { deep = XElement("level", namespace: "urn:x", children: [.element(deep)]) }
        #expect(try StoredXML.decode(StoredXML.encode(deep)) == deep)
        let big = XElement("big", namespace: "urn:x", children: [.text(String(repeating: "x", count: 300_000))])
        #expect(try StoredXML.decode(StoredXML.encode(big)) == big)
    }

    @Test(arguments: ["", "text only", "<a/><b/>", "<a>", "<a></b>", "<!-- c --><a/>", "<?pi x?><a/>"])
    func malformedTextIsAnError(_ text: String) {
        #expect(throws: StoredXMLError.self) { try StoredXML.decode(text) }
    }
}
