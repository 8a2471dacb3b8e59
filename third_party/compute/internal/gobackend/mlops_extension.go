// This file is not part of upstream github.com/gomlx/compute: mlops added it so that
// gobackend/extension can chain a replacement executor to the one it replaces.

package gobackend

import "github.com/gomlx/compute"

// NodeExecutorOf returns the executor currently registered for opType, nil if there is none.
func NodeExecutorOf(opType compute.OpType) NodeExecutor {
	return nodeExecutors[opType]
}
