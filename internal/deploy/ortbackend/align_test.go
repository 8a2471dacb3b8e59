package ortbackend

import (
	"bytes"
	"testing"
	"unsafe"
)

func TestAlignedCopiesOnlyMisalignedData(t *testing.T) {
	buf := make([]byte, 4096+tensorAlign)
	base := int(tensorAlign-uintptr(unsafe.Pointer(&buf[0]))%tensorAlign) % tensorAlign
	for i := range buf {
		buf[i] = byte(i)
	}
	at := buf[base : base+1000]
	if got := aligned(at); &got[0] != &at[0] {
		t.Error("aligned data was copied")
	}
	for off := 1; off < tensorAlign; off += 7 {
		mis := buf[base+off : base+off+1000]
		got := aligned(mis)
		if p := uintptr(unsafe.Pointer(&got[0])); p%tensorAlign != 0 {
			t.Fatalf("offset %d: result at %#x is not %d-byte aligned", off, p, tensorAlign)
		}
		if !bytes.Equal(got, mis) || cap(got) != len(mis) {
			t.Fatalf("offset %d: copy differs (len %d cap %d)", off, len(got), cap(got))
		}
	}
	if got := aligned(nil); got != nil {
		t.Error("nil changed")
	}
}
