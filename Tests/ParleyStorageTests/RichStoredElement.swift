import XMPPXML

/// XML that exercises what a text backend must keep: namespaces (default, nested, foreign, none),
/// qualified attributes, xml:lang, characters that need escaping, non-ASCII text, empty elements.
func richStoredElement(_ name: String, namespace: String, marker: String = "") -> XElement {
    var root = XElement(name, namespace: namespace, ["version": "3.0"])
    root.attributes.append(XAttribute(name: "lang", namespace: XMLNamespace.xml, value: "en"))
    root.attributes.append(XAttribute(name: "flag", namespace: "urn:example:attrs", value: "a'b\"c<d>&e"))
    var fn = XElement("FN", namespace: namespace)
    fn.append(text: "Zoë <&> \"quoted\" 'single' \(marker) — 漢字 🎉")
    root.append(fn)
    var nested = XElement("N", namespace: namespace)
    nested.append(XElement("FAMILY", namespace: namespace, children: [.text("Saint-Andre")]))
    nested.append(XElement("MIDDLE", namespace: namespace))
    root.append(nested)
    var foreign = XElement("extra", namespace: "urn:example:foreign", ["k": "v"])
    foreign.append(XElement("inner", namespace: "urn:example:foreign"))
    foreign.append(XElement("unqualified", namespace: ""))
    root.append(foreign)
    var mixed = XElement("DESC", namespace: namespace)
    mixed.append(text: "  leading and trailing spaces\n second line  ")
    root.append(mixed)
    return root
}
