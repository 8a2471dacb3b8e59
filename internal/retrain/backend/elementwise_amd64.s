#include "textflag.h"

// Elementwise float32 kernels on 8 lanes; n is a multiple of 8 (the Go wrappers do the tail).
// Each is IEEE-exact like the Go loop it replaces: one rounding per operation, no FMA.

// func addVVAVX2(dst, a, b *float32, n int): dst[i] = a[i] add b[i]
TEXT ·addVVAVX2(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ n+24(FP), CX
	SHRQ $3, CX
	JEQ done
loop:
	VMOVUPS (SI), Y0
	VADDPS (DX), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DX
	ADDQ $32, DI
	DECQ CX
	JNE loop
	VZEROUPPER
done:
	RET

// func addVSAVX2(dst, a *float32, n int, s float32): dst[i] = a[i] add s
TEXT ·addVSAVX2(SB), NOSPLIT, $0-28
	MOVQ dst+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS s+24(FP), Y1
	SHRQ $3, CX
	JEQ done
loop:
	VMOVUPS (SI), Y0
	VADDPS Y1, Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNE loop
	VZEROUPPER
done:
	RET

// func addSVAVX2(dst, b *float32, n int, s float32): dst[i] = s add b[i]
TEXT ·addSVAVX2(SB), NOSPLIT, $0-28
	MOVQ dst+0(FP), DI
	MOVQ b+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS s+24(FP), Y1
	SHRQ $3, CX
	JEQ done
loop:
	VMOVUPS (SI), Y0
	VADDPS Y0, Y1, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNE loop
	VZEROUPPER
done:
	RET

// func subVVAVX2(dst, a, b *float32, n int): dst[i] = a[i] sub b[i]
TEXT ·subVVAVX2(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ n+24(FP), CX
	SHRQ $3, CX
	JEQ done
loop:
	VMOVUPS (SI), Y0
	VSUBPS (DX), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DX
	ADDQ $32, DI
	DECQ CX
	JNE loop
	VZEROUPPER
done:
	RET

// func subVSAVX2(dst, a *float32, n int, s float32): dst[i] = a[i] sub s
TEXT ·subVSAVX2(SB), NOSPLIT, $0-28
	MOVQ dst+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS s+24(FP), Y1
	SHRQ $3, CX
	JEQ done
loop:
	VMOVUPS (SI), Y0
	VSUBPS Y1, Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNE loop
	VZEROUPPER
done:
	RET

// func subSVAVX2(dst, b *float32, n int, s float32): dst[i] = s sub b[i]
TEXT ·subSVAVX2(SB), NOSPLIT, $0-28
	MOVQ dst+0(FP), DI
	MOVQ b+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS s+24(FP), Y1
	SHRQ $3, CX
	JEQ done
loop:
	VMOVUPS (SI), Y0
	VSUBPS Y0, Y1, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNE loop
	VZEROUPPER
done:
	RET

// func mulVVAVX2(dst, a, b *float32, n int): dst[i] = a[i] mul b[i]
TEXT ·mulVVAVX2(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ n+24(FP), CX
	SHRQ $3, CX
	JEQ done
loop:
	VMOVUPS (SI), Y0
	VMULPS (DX), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DX
	ADDQ $32, DI
	DECQ CX
	JNE loop
	VZEROUPPER
done:
	RET

// func mulVSAVX2(dst, a *float32, n int, s float32): dst[i] = a[i] mul s
TEXT ·mulVSAVX2(SB), NOSPLIT, $0-28
	MOVQ dst+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS s+24(FP), Y1
	SHRQ $3, CX
	JEQ done
loop:
	VMOVUPS (SI), Y0
	VMULPS Y1, Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNE loop
	VZEROUPPER
done:
	RET

// func mulSVAVX2(dst, b *float32, n int, s float32): dst[i] = s mul b[i]
TEXT ·mulSVAVX2(SB), NOSPLIT, $0-28
	MOVQ dst+0(FP), DI
	MOVQ b+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS s+24(FP), Y1
	SHRQ $3, CX
	JEQ done
loop:
	VMOVUPS (SI), Y0
	VMULPS Y0, Y1, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNE loop
	VZEROUPPER
done:
	RET

// func divVVAVX2(dst, a, b *float32, n int): dst[i] = a[i] div b[i]
TEXT ·divVVAVX2(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ n+24(FP), CX
	SHRQ $3, CX
	JEQ done
loop:
	VMOVUPS (SI), Y0
	VDIVPS (DX), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DX
	ADDQ $32, DI
	DECQ CX
	JNE loop
	VZEROUPPER
done:
	RET

// func divVSAVX2(dst, a *float32, n int, s float32): dst[i] = a[i] div s
TEXT ·divVSAVX2(SB), NOSPLIT, $0-28
	MOVQ dst+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS s+24(FP), Y1
	SHRQ $3, CX
	JEQ done
loop:
	VMOVUPS (SI), Y0
	VDIVPS Y1, Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNE loop
	VZEROUPPER
done:
	RET

// func divSVAVX2(dst, b *float32, n int, s float32): dst[i] = s div b[i]
TEXT ·divSVAVX2(SB), NOSPLIT, $0-28
	MOVQ dst+0(FP), DI
	MOVQ b+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS s+24(FP), Y1
	SHRQ $3, CX
	JEQ done
loop:
	VMOVUPS (SI), Y0
	VDIVPS Y0, Y1, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNE loop
	VZEROUPPER
done:
	RET

DATA plusOne<>+0(SB)/4, $0x3f800000
GLOBL plusOne<>(SB), RODATA|NOPTR, $4
DATA minusOne<>+0(SB)/4, $0xbf800000
GLOBL minusOne<>(SB), RODATA|NOPTR, $4

// func signAVX2(dst, a *float32, n int): 1 where a > 0, -1 where a < 0, else 0 (NaN, ±0).
TEXT ·signAVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ n+16(FP), CX
	VXORPS Y3, Y3, Y3
	VBROADCASTSS plusOne<>(SB), Y4
	VBROADCASTSS minusOne<>(SB), Y5
	SHRQ $3, CX
	JEQ done
loop:
	VMOVUPS (SI), Y0
	VCMPPS $0x1e, Y3, Y0, Y1
	VCMPPS $0x11, Y3, Y0, Y2
	VANDPS Y4, Y1, Y1
	VANDPS Y5, Y2, Y2
	VORPS Y2, Y1, Y1
	VMOVUPS Y1, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNE loop
	VZEROUPPER
done:
	RET
