package root

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// cmdHTTP implements `http METHOD ADDRFILE PATH [BODYFILE]` for serve
// scripts: it waits (up to 30 s) for ADDRFILE, which `mlops serve
// --addr-file` writes once it listens, sends the request to that address and
// prints the status code on the first line of stdout and the body after it.
func cmdHTTP(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 3 || len(args) > 4 {
		ts.Fatalf("usage: http METHOD ADDRFILE PATH [BODYFILE]")
	}
	addrFile := ts.MkAbs(args[1])
	var addr string
	for deadline := time.Now().Add(30 * time.Second); ; {
		if b, err := os.ReadFile(addrFile); err == nil && len(b) > 0 {
			addr = strings.TrimSpace(string(b))
			break
		}
		if time.Now().After(deadline) {
			ts.Fatalf("%s not written within 30s: the server did not start", args[1])
		}
		time.Sleep(20 * time.Millisecond)
	}
	var body io.Reader
	if len(args) == 4 {
		body = bytes.NewReader([]byte(ts.ReadFile(args[3])))
	}
	req, err := http.NewRequest(args[0], "http://"+addr+args[2], body)
	ts.Check(err)
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Do(req)
	ts.Check(err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	ts.Check(err)
	fmt.Fprintf(ts.Stdout(), "%d\n%s\n", resp.StatusCode, b)
}
