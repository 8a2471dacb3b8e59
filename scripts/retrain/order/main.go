// Command order prints the row order mlops retrain visits in each epoch
// (data.Shuffle), so the torch reference in scripts/retrain can train on
// exactly the same batches: go run ./scripts/retrain/order ROWS SEED EPOCHS OUT.npy
// writes an int64 array of EPOCHS×ROWS row indices.
package main

import (
	"fmt"
	"os"
	"strconv"

	"github.com/sbinet/npyio"

	"github.com/mlops-dev/mlops/internal/data"
)

func main() {
	if len(os.Args) != 5 {
		fmt.Fprintln(os.Stderr, "usage: order ROWS SEED EPOCHS OUT.npy")
		os.Exit(2)
	}
	rows, err1 := strconv.Atoi(os.Args[1])
	seed, err2 := strconv.ParseUint(os.Args[2], 10, 64)
	epochs, err3 := strconv.Atoi(os.Args[3])
	if err1 != nil || err2 != nil || err3 != nil || rows < 1 || epochs < 1 {
		fmt.Fprintln(os.Stderr, "order: ROWS, SEED and EPOCHS must be positive integers")
		os.Exit(2)
	}
	all := make([]int64, 0, rows*epochs)
	for e := 0; e < epochs; e++ {
		for _, i := range data.Shuffle(rows, seed, e) {
			all = append(all, int64(i))
		}
	}
	f, err := os.Create(os.Args[4])
	if err != nil {
		fmt.Fprintln(os.Stderr, "order:", err)
		os.Exit(1)
	}
	if err := npyio.Write(f, all); err != nil {
		fmt.Fprintln(os.Stderr, "order:", err)
		os.Exit(1)
	}
	if err := f.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "order:", err)
		os.Exit(1)
	}
}
