// RUN: sparsec opt %s -p combine-parallel-linears --split-input-file | filecheck %s
// RUN: sparsec opt %s -p combine-parallel-linears,combine-parallel-linears --split-input-file | filecheck %s

// Three projections of one input with biases: one linear of the stacked weights, three slices.
// CHECK-LABEL: sym_name = "qkv"
// CHECK-NEXT: ^bb0
// CHECK-NEXT: %[[W:.*]] = "sparsec.constant"() <{value = dense<{{.*}}> : tensor<6x4xf32>}>
// CHECK-NEXT: %[[B:.*]] = "sparsec.constant"() <{value = dense<[1.0, 1.0, 2.0, 2.0, 3.0, 3.0]> : tensor<6xf32>}>
// CHECK-NEXT: %[[Y:.*]] = "sparsec.linear"(%arg0, %[[W]], %[[B]]) {sparsec.parts = array<i64: 2, 2, 2>} : (tensor<1x3x4xf32>, tensor<6x4xf32>, tensor<6xf32>) -> tensor<1x3x6xf32>
// CHECK-NEXT: %[[Q:.*]] = "sparsec.slice"(%[[Y]]) <{axis = 2, end = 2, start = 0, step = 1}> : (tensor<1x3x6xf32>) -> tensor<1x3x2xf32>
// CHECK-NEXT: %[[K:.*]] = "sparsec.slice"(%[[Y]]) <{axis = 2, end = 4, start = 2, step = 1}>
// CHECK-NEXT: %[[V:.*]] = "sparsec.slice"(%[[Y]]) <{axis = 2, end = 6, start = 4, step = 1}>
// CHECK-NEXT: "func.return"(%[[Q]], %[[K]], %[[V]])
"func.func"() <{function_type = (tensor<1x3x4xf32>) -> (tensor<1x3x2xf32>, tensor<1x3x2xf32>, tensor<1x3x2xf32>), sym_name = "qkv"}> ({
^bb0(%arg0: tensor<1x3x4xf32>):
  %wq = "sparsec.constant"() <{value = dense<0.5> : tensor<2x4xf32>}> : () -> tensor<2x4xf32>
  %bq = "sparsec.constant"() <{value = dense<1.0> : tensor<2xf32>}> : () -> tensor<2xf32>
  %q = "sparsec.linear"(%arg0, %wq, %bq) : (tensor<1x3x4xf32>, tensor<2x4xf32>, tensor<2xf32>) -> tensor<1x3x2xf32>
  %wk = "sparsec.constant"() <{value = dense<0.25> : tensor<2x4xf32>}> : () -> tensor<2x4xf32>
  %bk = "sparsec.constant"() <{value = dense<2.0> : tensor<2xf32>}> : () -> tensor<2xf32>
  %k = "sparsec.linear"(%arg0, %wk, %bk) : (tensor<1x3x4xf32>, tensor<2x4xf32>, tensor<2xf32>) -> tensor<1x3x2xf32>
  %wv = "sparsec.constant"() <{value = dense<2.0> : tensor<2x4xf32>}> : () -> tensor<2x4xf32>
  %bv = "sparsec.constant"() <{value = dense<3.0> : tensor<2xf32>}> : () -> tensor<2xf32>
  %v = "sparsec.linear"(%arg0, %wv, %bv) : (tensor<1x3x4xf32>, tensor<2x4xf32>, tensor<2xf32>) -> tensor<1x3x2xf32>
  "func.return"(%q, %k, %v) : (tensor<1x3x2xf32>, tensor<1x3x2xf32>, tensor<1x3x2xf32>) -> ()
}) : () -> ()

// -----

// BSR linears of one block shape: data and indices joined, the second indptr shifted by the
// first's block count, the dense shape the stacked one.
// CHECK-LABEL: sym_name = "bsr"
// CHECK: %[[D:.*]] = "sparsec.constant"() <{value = dense<{{.*}}> : tensor<3x2x1xf32>}>
// CHECK-NEXT: %[[I:.*]] = "sparsec.constant"() <{value = dense<[0, 3, 1]> : tensor<3xi32>}>
// CHECK-NEXT: %[[P:.*]] = "sparsec.constant"() <{value = dense<[0, 1, 2, 2, 3]> : tensor<5xi32>}>
// CHECK-NEXT: "sparsec.bsr_linear"(%arg0, %[[D]], %[[I]], %[[P]]) <{block_shape = array<i64: 2, 1>, dense_shape = array<i64: 8, 4>}> {sparsec.parts = array<i64: 4, 4>} : (tensor<3x4xf32>, tensor<3x2x1xf32>, tensor<3xi32>, tensor<5xi32>) -> tensor<3x8xf32>
// CHECK: "sparsec.slice"
// CHECK-SAME: end = 4, start = 0
// CHECK: "sparsec.slice"
// CHECK-SAME: end = 8, start = 4
"func.func"() <{function_type = (tensor<3x4xf32>) -> (tensor<3x4xf32>, tensor<3x4xf32>), sym_name = "bsr"}> ({
^bb0(%arg0: tensor<3x4xf32>):
  %d0 = "sparsec.constant"() <{value = dense<[[[1.0], [2.0]], [[3.0], [4.0]]]> : tensor<2x2x1xf32>}> : () -> tensor<2x2x1xf32>
  %i0 = "sparsec.constant"() <{value = dense<[0, 3]> : tensor<2xi32>}> : () -> tensor<2xi32>
  %p0 = "sparsec.constant"() <{value = dense<[0, 1, 2]> : tensor<3xi32>}> : () -> tensor<3xi32>
  %y0 = "sparsec.bsr_linear"(%arg0, %d0, %i0, %p0) <{block_shape = array<i64: 2, 1>, dense_shape = array<i64: 4, 4>}> : (tensor<3x4xf32>, tensor<2x2x1xf32>, tensor<2xi32>, tensor<3xi32>) -> tensor<3x4xf32>
  %d1 = "sparsec.constant"() <{value = dense<[[[5.0], [6.0]]]> : tensor<1x2x1xf32>}> : () -> tensor<1x2x1xf32>
  %i1 = "sparsec.constant"() <{value = dense<[1]> : tensor<1xi32>}> : () -> tensor<1xi32>
  %p1 = "sparsec.constant"() <{value = dense<[0, 0, 1]> : tensor<3xi32>}> : () -> tensor<3xi32>
  %y1 = "sparsec.bsr_linear"(%arg0, %d1, %i1, %p1) <{block_shape = array<i64: 2, 1>, dense_shape = array<i64: 4, 4>}> : (tensor<3x4xf32>, tensor<1x2x1xf32>, tensor<1xi32>, tensor<3xi32>) -> tensor<3x4xf32>
  "func.return"(%y0, %y1) : (tensor<3x4xf32>, tensor<3x4xf32>) -> ()
}) : () -> ()

// -----

// NEGATIVE: other inputs, a bias against none, and a linear whose only user the fusion pass
// folds into its epilogue (gelu) stay as they are.
// CHECK-LABEL: sym_name = "apart"
// CHECK-NOT: sparsec.slice
// CHECK-NOT: sparsec.parts
// CHECK: "func.return"
"func.func"() <{function_type = (tensor<3x4xf32>, tensor<3x4xf32>) -> (tensor<3x2xf32>, tensor<3x2xf32>, tensor<3x2xf32>, tensor<3x2xf32>), sym_name = "apart"}> ({
^bb0(%arg0: tensor<3x4xf32>, %arg1: tensor<3x4xf32>):
  %w = "sparsec.constant"() <{value = dense<0.5> : tensor<2x4xf32>}> : () -> tensor<2x4xf32>
  %b = "sparsec.constant"() <{value = dense<1.0> : tensor<2xf32>}> : () -> tensor<2xf32>
  %a = "sparsec.linear"(%arg0, %w, %b) : (tensor<3x4xf32>, tensor<2x4xf32>, tensor<2xf32>) -> tensor<3x2xf32>
  %c = "sparsec.linear"(%arg1, %w, %b) : (tensor<3x4xf32>, tensor<2x4xf32>, tensor<2xf32>) -> tensor<3x2xf32>
  %d = "sparsec.linear"(%arg0, %w) : (tensor<3x4xf32>, tensor<2x4xf32>) -> tensor<3x2xf32>
  %e = "sparsec.linear"(%arg1, %w, %b) : (tensor<3x4xf32>, tensor<2x4xf32>, tensor<2xf32>) -> tensor<3x2xf32>
  %g = "sparsec.gelu"(%e) <{approximate = "none"}> : (tensor<3x2xf32>) -> tensor<3x2xf32>
  "func.return"(%a, %c, %d, %g) : (tensor<3x2xf32>, tensor<3x2xf32>, tensor<3x2xf32>, tensor<3x2xf32>) -> ()
}) : () -> ()
