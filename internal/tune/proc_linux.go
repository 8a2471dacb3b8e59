package tune

import "syscall"

// procAttr puts a trial in its own process group, and has the kernel kill it if mlops dies
// (kill -9 included) so no trial outlives its worker unaccounted for.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
