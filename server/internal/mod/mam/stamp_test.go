package mam

import (
	"fmt"
	"testing"
	"unsafe"

	"hearth/server/internal/stanza"
)

// TestStamp: stamp's copy is what ShallowClone and Append made, for
// elements that fit its array and elements that do not; it shares the
// (immutable) attributes and not the array of children, and its slices
// are full, so that an append on the copy never writes into el's.
func TestStamp(t *testing.T) {
	for _, attrs := range []int{0, 1, 5, 12} {
		for _, kids := range []int{0, 1, stampKids - 1, stampKids, 20} {
			el := &stanza.Element{Name: "message", NS: stanza.NSClient, Wire: 77, Mem: 99}
			for i := range attrs {
				el.SetAttr(fmt.Sprintf("a%d", i), "v")
			}
			for i := range kids {
				el.Append(stanza.New(fmt.Sprintf("c%d", i), "urn:x"))
			}
			want := el.ShallowClone().Append(stanza.New("stanza-id", NSSID, "by", "bob@home.test", "id", "ID"))
			orig := el.String()
			got := new(stamped).stamp(el, "bob@home.test", "ID")
			if got.String() != want.String() || got.Wire != 77 || got.Mem != 99 {
				t.Errorf("%d attrs, %d children: got %s, want %s", attrs, kids, got, want)
			}
			if el.String() != orig {
				t.Errorf("%d attrs, %d children: original changed", attrs, kids)
			}
			if cap(got.Attrs) != len(got.Attrs) || cap(got.Children) != len(got.Children) {
				t.Errorf("%d attrs, %d children: room left in the copy's slices", attrs, kids)
			}
			if kids > 0 && &got.Children[0] == &el.Children[0] {
				t.Errorf("%d attrs, %d children: the copy shares the array of children", attrs, kids)
			}
			if attrs > 0 && &got.Attrs[0] != &el.Attrs[0] {
				t.Errorf("%d attrs, %d children: the attributes were copied", attrs, kids)
			}
		}
	}
}

// TestStampSize: the recipient's copy fills its allocation's size class
// (576 bytes, with the 8-byte header of objects over 512 bytes).
func TestStampSize(t *testing.T) {
	if n := unsafe.Sizeof(stampedStanza{}); n+8 > 576 || n+8+8 <= 576 {
		t.Errorf("stampedStanza is %d bytes: stampKids should fill the 576-byte class", n)
	}
}
