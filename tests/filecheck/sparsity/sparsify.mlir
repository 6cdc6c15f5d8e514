// RUN: sparsec opt %s -p sparsify --split-input-file | filecheck %s

// A 2x2 decision: the two nonzero blocks become data [2, 2, 2], indices [0, 1] and
// indptr [0, 1, 2] resources named after the weight; the bias stays the last operand,
// the analysis and decision attributes stay visible, and the dense weight is gone.
// CHECK-LABEL: sym_name = "bsr_with_bias"
// CHECK-NEXT: ^bb0
// CHECK-NEXT: %[[B:.*]] = "sparsec.constant"() <{value = dense<[1.0, 2.0, 3.0, 4.0]> : tensor<4xf32>}>
// CHECK-NEXT: %[[D:.*]] = "sparsec.constant"() <{value = dense_resource<fc.weight.bsr2x2.data> : tensor<2x2x2xf32>}>
// CHECK-NEXT: %[[I:.*]] = "sparsec.constant"() <{value = dense_resource<fc.weight.bsr2x2.indices> : tensor<2xi32>}>
// CHECK-NEXT: %[[P:.*]] = "sparsec.constant"() <{value = dense_resource<fc.weight.bsr2x2.indptr> : tensor<3xi32>}>
// CHECK-NEXT: %[[Y:.*]] = "sparsec.bsr_linear"(%arg0, %[[D]], %[[I]], %[[P]], %[[B]]) <{block_shape = array<i64: 2, 2>, dense_shape = array<i64: 4, 4>}>
// CHECK-SAME: {sparsec.decision = {block_shape = "2x2", predicted_speedup = 1.0 : f64, reason = "test"}}
// CHECK-SAME: (tensor<2x4xf32>, tensor<2x2x2xf32>, tensor<2xi32>, tensor<3xi32>, tensor<4xf32>) -> tensor<2x4xf32>
// CHECK-NEXT: "func.return"(%[[Y]])
// CHECK-NOT: fc.weight:
// CHECK: fc.weight.bsr2x2.data: "0x040000000000803F00000040000040400000804000000000000000000000A04000000000",
// CHECK-NEXT: fc.weight.bsr2x2.indices: "0x040000000000000001000000",
// CHECK-NEXT: fc.weight.bsr2x2.indptr: "0x04000000000000000100000002000000"
// CHECK-NOT: fc.weight:
"builtin.module"() ({
  "func.func"() <{function_type = (tensor<2x4xf32>) -> tensor<2x4xf32>, sym_name = "bsr_with_bias"}> ({
  ^bb0(%arg0: tensor<2x4xf32>):
    %0 = "sparsec.constant"() <{value = dense_resource<fc.weight> : tensor<4x4xf32>}> : () -> tensor<4x4xf32>
    %1 = "sparsec.constant"() <{value = dense<[1.0, 2.0, 3.0, 4.0]> : tensor<4xf32>}> : () -> tensor<4xf32>
    %2 = "sparsec.linear"(%arg0, %0, %1) {sparsec.decision = {block_shape = "2x2", predicted_speedup = 1.0 : f64, reason = "test"}} : (tensor<2x4xf32>, tensor<4x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
    "func.return"(%2) : (tensor<2x4xf32>) -> ()
  }) : () -> ()
}) : () -> ()
{-#
  dialect_resources: {
    builtin: {
      fc.weight: "0x040000000000803F000000400000000000000000000040400000804000000000000000000000000000000000000000000000000000000000000000000000A04000000000"
    }
  }
#-}

// -----

// 3x1 on 4 rows: two block rows (the second padded), indptr [0, 2, 3]; the padded
// block [4, 0, 0] is stored whole.
// CHECK-LABEL: sym_name = "padded"
// CHECK: dense_resource<pad.weight.bsr3x1.data> : tensor<3x3x1xf32>
// CHECK: dense_resource<pad.weight.bsr3x1.indices> : tensor<3xi32>
// CHECK: dense_resource<pad.weight.bsr3x1.indptr> : tensor<3xi32>
// CHECK: "sparsec.bsr_linear"(%arg0, %0, %1, %2) <{block_shape = array<i64: 3, 1>, dense_shape = array<i64: 4, 4>}>
// CHECK: pad.weight.bsr3x1.data: "0x040000000000803F0000004000000000000000000000000000004040000080400000000000000000",
// CHECK-NEXT: pad.weight.bsr3x1.indices: "0x04000000000000000300000003000000",
// CHECK-NEXT: pad.weight.bsr3x1.indptr: "0x04000000000000000200000003000000"
"builtin.module"() ({
  "func.func"() <{function_type = (tensor<2x4xf32>) -> tensor<2x4xf32>, sym_name = "padded"}> ({
  ^bb0(%arg0: tensor<2x4xf32>):
    %0 = "sparsec.constant"() <{value = dense_resource<pad.weight> : tensor<4x4xf32>}> : () -> tensor<4x4xf32>
    %1 = "sparsec.linear"(%arg0, %0) {sparsec.decision = {block_shape = "3x1", predicted_speedup = 1.0 : f64, reason = "test"}} : (tensor<2x4xf32>, tensor<4x4xf32>) -> tensor<2x4xf32>
    "func.return"(%1) : (tensor<2x4xf32>) -> ()
  }) : () -> ()
}) : () -> ()
{-#
  dialect_resources: {
    builtin: {
      pad.weight: "0x040000000000803F000000000000000000000000000000400000000000000000000000000000000000000000000000000000404000000000000000000000000000008040"
    }
  }
#-}

// -----

// Weights chosen dense, and linears with no decision, are left exactly as they were.
// CHECK-LABEL: sym_name = "dense_kept"
// CHECK-NEXT: ^bb0
// CHECK-NEXT: %0 = "sparsec.constant"() <{value = dense_resource<keep.weight> : tensor<4x4xf32>}>
// CHECK-NEXT: %1 = "sparsec.linear"(%arg0, %0) {sparsec.decision = {block_shape = "dense", predicted_speedup = 1.0 : f64, reason = "test"}}
// CHECK-NEXT: %2 = "sparsec.linear"(%arg0, %0) : (
// CHECK-NOT: bsr
// CHECK: keep.weight: "0x040000000000803F000000400000000000000000000040400000804000000000000000000000000000000000000000000000000000000000000000000000A04000000000"
"builtin.module"() ({
  "func.func"() <{function_type = (tensor<2x4xf32>) -> (tensor<2x4xf32>, tensor<2x4xf32>), sym_name = "dense_kept"}> ({
  ^bb0(%arg0: tensor<2x4xf32>):
    %0 = "sparsec.constant"() <{value = dense_resource<keep.weight> : tensor<4x4xf32>}> : () -> tensor<4x4xf32>
    %1 = "sparsec.linear"(%arg0, %0) {sparsec.decision = {block_shape = "dense", predicted_speedup = 1.0 : f64, reason = "test"}} : (tensor<2x4xf32>, tensor<4x4xf32>) -> tensor<2x4xf32>
    %2 = "sparsec.linear"(%arg0, %0) : (tensor<2x4xf32>, tensor<4x4xf32>) -> tensor<2x4xf32>
    "func.return"(%1, %2) : (tensor<2x4xf32>, tensor<2x4xf32>) -> ()
  }) : () -> ()
}) : () -> ()
{-#
  dialect_resources: {
    builtin: {
      keep.weight: "0x040000000000803F000000400000000000000000000040400000804000000000000000000000000000000000000000000000000000000000000000000000A04000000000"
    }
  }
#-}

// -----

// A weight shared by a dense linear and a BSR one: the dense constant stays for its
// remaining user, and the BSR resources are added next to it.
// CHECK-LABEL: sym_name = "shared_weight"
// CHECK: %[[W:.*]] = "sparsec.constant"() <{value = dense_resource<shared.weight> : tensor<4x4xf32>}>
// CHECK: "sparsec.linear"(%arg0, %[[W]])
// CHECK: "sparsec.bsr_linear"(%arg0,
// CHECK-SAME: block_shape = array<i64: 1, 2>
// CHECK: shared.weight: "0x040000000000803F000000400000000000000000000040400000804000000000000000000000000000000000000000000000000000000000000000000000A04000000000"
// CHECK-NEXT: shared.weight.bsr1x2.data:
// CHECK-NEXT: shared.weight.bsr1x2.indices:
// CHECK-NEXT: shared.weight.bsr1x2.indptr:
"builtin.module"() ({
  "func.func"() <{function_type = (tensor<2x4xf32>) -> (tensor<2x4xf32>, tensor<2x4xf32>), sym_name = "shared_weight"}> ({
  ^bb0(%arg0: tensor<2x4xf32>):
    %0 = "sparsec.constant"() <{value = dense_resource<shared.weight> : tensor<4x4xf32>}> : () -> tensor<4x4xf32>
    %1 = "sparsec.linear"(%arg0, %0) {sparsec.decision = {block_shape = "dense", predicted_speedup = 1.0 : f64, reason = "test"}} : (tensor<2x4xf32>, tensor<4x4xf32>) -> tensor<2x4xf32>
    %2 = "sparsec.linear"(%arg0, %0) {sparsec.decision = {block_shape = "1x2", predicted_speedup = 1.0 : f64, reason = "test"}} : (tensor<2x4xf32>, tensor<4x4xf32>) -> tensor<2x4xf32>
    "func.return"(%1, %2) : (tensor<2x4xf32>, tensor<2x4xf32>) -> ()
  }) : () -> ()
}) : () -> ()
{-#
  dialect_resources: {
    builtin: {
      shared.weight: "0x040000000000803F000000400000000000000000000040400000804000000000000000000000000000000000000000000000000000000000000000000000A04000000000"
    }
  }
#-}

// -----

// An inline weight has no name: its resources are named after the linear's position;
// both nonzeros are in block row 0, so indptr is [0, 2, 2].
// CHECK-LABEL: sym_name = "inline_weight"
// CHECK: dense_resource<linear0.weight.bsr1x1.data> : tensor<2x1x1xf32>
// CHECK: linear0.weight.bsr1x1.data: "0x040000000000803F00000040",
// CHECK-NEXT: linear0.weight.bsr1x1.indices: "0x040000000000000001000000",
// CHECK-NEXT: linear0.weight.bsr1x1.indptr: "0x04000000000000000200000002000000"
"func.func"() <{function_type = (tensor<2x2xf32>) -> tensor<2x2xf32>, sym_name = "inline_weight"}> ({
^bb0(%arg0: tensor<2x2xf32>):
  %0 = "sparsec.constant"() <{value = dense<[[1.0, 2.0], [0.0, 0.0]]> : tensor<2x2xf32>}> : () -> tensor<2x2xf32>
  %1 = "sparsec.linear"(%arg0, %0) {sparsec.decision = {block_shape = "1x1", predicted_speedup = 1.0 : f64, reason = "test"}} : (tensor<2x2xf32>, tensor<2x2xf32>) -> tensor<2x2xf32>
  "func.return"(%1) : (tensor<2x2xf32>) -> ()
}) : () -> ()
