// IR dumps after passes go to stderr with MLIR's header, weights elided; stdout keeps the result.
// RUN: sparsec opt %s -p canonicalize,cse --print-ir-after-all 2>&1 >/dev/null \
// RUN:   | filecheck %s --check-prefix=ALL
// RUN: sparsec opt %s -p canonicalize,cse,dce --print-ir-after cse --print-ir-after dce 2>&1 >/dev/null \
// RUN:   | filecheck %s --check-prefix=SOME
// RUN: sparsec opt %s -p canonicalize --print-ir-after-all 2>/dev/null | filecheck %s --check-prefix=OUT

// ALL: // -----// IR Dump After Canonicalize (canonicalize) //----- //
// ALL-NEXT: "builtin.module"
// ALL-NOT: "sparsec.neg"
// ALL: dense_resource<fc.weight> : tensor<2x4xf32>
// ALL-NOT: dialect_resources
// ALL: // -----// IR Dump After CSE (cse) //----- //
// ALL-NEXT: "builtin.module"
// ALL-NOT: dialect_resources

// SOME-NOT: IR Dump After Canonicalize
// SOME: // -----// IR Dump After CSE (cse) //----- //
// SOME: // -----// IR Dump After DCE (dce) //----- //

// OUT-NOT: IR Dump
// OUT: "builtin.module"
// OUT: dialect_resources
// OUT: fc.weight: "0x04000000

"func.func"() <{function_type = (tensor<3x4xf32>) -> tensor<3x2xf32>, sym_name = "forward"}> ({
^bb0(%arg0: tensor<3x4xf32>):
  %0 = "sparsec.constant"() <{value = dense_resource<fc.weight> : tensor<2x4xf32>}> : () -> tensor<2x4xf32>
  %1 = "sparsec.neg"(%arg0) : (tensor<3x4xf32>) -> tensor<3x4xf32>
  %2 = "sparsec.neg"(%1) : (tensor<3x4xf32>) -> tensor<3x4xf32>
  %3 = "sparsec.linear"(%2, %0) : (tensor<3x4xf32>, tensor<2x4xf32>) -> tensor<3x2xf32>
  "func.return"(%3) : (tensor<3x2xf32>) -> ()
}) : () -> ()
{-#
  dialect_resources: {
    builtin: {
      fc.weight: "0x040000000000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F"
    }
  }
#-}
