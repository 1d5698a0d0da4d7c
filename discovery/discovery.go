// Package discovery will announce Hearth on the LAN with mDNS / DNS-SD
// (_xmpp-client._tcp, RFC 6762/6763) and browse for XEP-0174 link-local
// peers through github.com/grandcat/zeroconf. It knows nothing about
// stanzas. Until it lands, the server does not announce itself and
// --no-mdns has nothing to turn off.
package discovery
