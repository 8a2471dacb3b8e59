// Command mlops is a single-binary toolchain for ONNX models.
package main

import (
	"os"

	"github.com/mlops-dev/mlops/internal/cli/root"
)

func main() { os.Exit(root.Main()) }
