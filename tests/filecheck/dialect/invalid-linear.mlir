// RUN: sparsec opt %s --split-input-file --verify-diagnostics
// linear, bsr_linear, matmul and attention: each case is one invalid op, its error expected at it.

"func.func"() <{function_type = (tensor<2x8xf32>, tensor<4x7xf32>) -> tensor<2x4xf32>, sym_name = "linear_input_features_do_not_match"}> ({
^bb0(%arg0: tensor<2x8xf32>, %arg1: tensor<4x7xf32>):
  // expected-error @+1 {{'sparsec.linear' op input features do not match weight columns: 8 vs 7}}
  %0 = "sparsec.linear"(%arg0, %arg1) : (tensor<2x8xf32>, tensor<4x7xf32>) -> tensor<2x4xf32>
  "func.return"(%0) : (tensor<2x4xf32>) -> ()
}) : () -> ()

// -----

"func.func"() <{function_type = (tensor<2x8xf32>, tensor<4x8xf32>, tensor<5xf32>) -> tensor<2x4xf32>, sym_name = "linear_bias_tensor_5xf32"}> ({
^bb0(%arg0: tensor<2x8xf32>, %arg1: tensor<4x8xf32>, %arg2: tensor<5xf32>):
  // expected-error @+1 {{'sparsec.linear' op bias tensor<5xf32> does not match 4 output features}}
  %0 = "sparsec.linear"(%arg0, %arg1, %arg2) : (tensor<2x8xf32>, tensor<4x8xf32>, tensor<5xf32>) -> tensor<2x4xf32>
  "func.return"(%0) : (tensor<2x4xf32>) -> ()
}) : () -> ()

// -----

"func.func"() <{function_type = (tensor<2x8xf32>) -> tensor<2x4xf32>, sym_name = "linear_expects_2_to_4_operands_got_1"}> ({
^bb0(%arg0: tensor<2x8xf32>):
  // expected-error @+1 {{'sparsec.linear' op expects 2 to 4 operands, got 1}}
  %0 = "sparsec.linear"(%arg0) : (tensor<2x8xf32>) -> tensor<2x4xf32>
  "func.return"(%0) : (tensor<2x4xf32>) -> ()
}) : () -> ()

// -----

"func.func"() <{function_type = (tensor<3x7xf32>, tensor<2x2x2xf32>, tensor<2xi32>, tensor<4xi32>) -> tensor<3x5xf32>, sym_name = "bsr_linear_does_not_hold_2x3_blocks"}> ({
^bb0(%arg0: tensor<3x7xf32>, %arg1: tensor<2x2x2xf32>, %arg2: tensor<2xi32>, %arg3: tensor<4xi32>):
  // expected-error @+1 {{'sparsec.bsr_linear' op data tensor<2x2x2xf32> does not hold 2x3 blocks}}
  %0 = "sparsec.bsr_linear"(%arg0, %arg1, %arg2, %arg3) <{block_shape = array<i64: 2, 3>, dense_shape = array<i64: 5, 7>}> : (tensor<3x7xf32>, tensor<2x2x2xf32>, tensor<2xi32>, tensor<4xi32>) -> tensor<3x5xf32>
  "func.return"(%0) : (tensor<3x5xf32>) -> ()
}) : () -> ()

// -----

"func.func"() <{function_type = (tensor<3x7xf32>, tensor<2x2x3xf32>, tensor<2xi32>, tensor<3xi32>) -> tensor<3x5xf32>, sym_name = "bsr_linear_indptr_length_must_be_block_rows_1_3_vs"}> ({
^bb0(%arg0: tensor<3x7xf32>, %arg1: tensor<2x2x3xf32>, %arg2: tensor<2xi32>, %arg3: tensor<3xi32>):
  // expected-error @+1 {{'sparsec.bsr_linear' op indptr length must be block rows + 1: 3 vs 4}}
  %0 = "sparsec.bsr_linear"(%arg0, %arg1, %arg2, %arg3) <{block_shape = array<i64: 2, 3>, dense_shape = array<i64: 5, 7>}> : (tensor<3x7xf32>, tensor<2x2x3xf32>, tensor<2xi32>, tensor<3xi32>) -> tensor<3x5xf32>
  "func.return"(%0) : (tensor<3x5xf32>) -> ()
}) : () -> ()

// -----

"func.func"() <{function_type = (tensor<3x7xf32>, tensor<2x2x3xf32>, tensor<2xf32>, tensor<4xi32>) -> tensor<3x5xf32>, sym_name = "bsr_linear_indices_and_indptr_must_be_integer"}> ({
^bb0(%arg0: tensor<3x7xf32>, %arg1: tensor<2x2x3xf32>, %arg2: tensor<2xf32>, %arg3: tensor<4xi32>):
  // expected-error @+1 {{'sparsec.bsr_linear' op indices and indptr must be integer tensors}}
  %0 = "sparsec.bsr_linear"(%arg0, %arg1, %arg2, %arg3) <{block_shape = array<i64: 2, 3>, dense_shape = array<i64: 5, 7>}> : (tensor<3x7xf32>, tensor<2x2x3xf32>, tensor<2xf32>, tensor<4xi32>) -> tensor<3x5xf32>
  "func.return"(%0) : (tensor<3x5xf32>) -> ()
}) : () -> ()

// -----

"func.func"() <{function_type = (tensor<3x7xf32>, tensor<10x2x3xf32>, tensor<10xi32>, tensor<4xi32>) -> tensor<3x5xf32>, sym_name = "bsr_linear_10_blocks_do_not_fit_a_5x7_weight"}> ({
^bb0(%arg0: tensor<3x7xf32>, %arg1: tensor<10x2x3xf32>, %arg2: tensor<10xi32>, %arg3: tensor<4xi32>):
  // expected-error @+1 {{'sparsec.bsr_linear' op 10 blocks do not fit a 5x7 weight}}
  %0 = "sparsec.bsr_linear"(%arg0, %arg1, %arg2, %arg3) <{block_shape = array<i64: 2, 3>, dense_shape = array<i64: 5, 7>}> : (tensor<3x7xf32>, tensor<10x2x3xf32>, tensor<10xi32>, tensor<4xi32>) -> tensor<3x5xf32>
  "func.return"(%0) : (tensor<3x5xf32>) -> ()
}) : () -> ()

// -----

"func.func"() <{function_type = (tensor<3x7xf32>, tensor<2x2x3xf32>, tensor<2xi32>, tensor<4xi32>, tensor<6xf32>) -> tensor<3x5xf32>, sym_name = "bsr_linear_bias_tensor_6xf32_does_not_match_5_outpu"}> ({
^bb0(%arg0: tensor<3x7xf32>, %arg1: tensor<2x2x3xf32>, %arg2: tensor<2xi32>, %arg3: tensor<4xi32>, %arg4: tensor<6xf32>):
  // expected-error @+1 {{'sparsec.bsr_linear' op bias tensor<6xf32> does not match 5 output features}}
  %0 = "sparsec.bsr_linear"(%arg0, %arg1, %arg2, %arg3, %arg4) <{block_shape = array<i64: 2, 3>, dense_shape = array<i64: 5, 7>}> : (tensor<3x7xf32>, tensor<2x2x3xf32>, tensor<2xi32>, tensor<4xi32>, tensor<6xf32>) -> tensor<3x5xf32>
  "func.return"(%0) : (tensor<3x5xf32>) -> ()
}) : () -> ()

// -----

"func.func"() <{function_type = (tensor<3x7xf32>, tensor<2x2x3xf32>, tensor<2xi32>, tensor<3xi32>) -> tensor<3x5xf32>, sym_name = "bsr_linear_block_shape_must_be_two_positive_sizes"}> ({
^bb0(%arg0: tensor<3x7xf32>, %arg1: tensor<2x2x3xf32>, %arg2: tensor<2xi32>, %arg3: tensor<3xi32>):
  // expected-error @+1 {{'sparsec.bsr_linear' op block_shape must be two positive sizes, got [2, 0]}}
  %0 = "sparsec.bsr_linear"(%arg0, %arg1, %arg2, %arg3) <{block_shape = array<i64: 2, 0>, dense_shape = array<i64: 5, 7>}> : (tensor<3x7xf32>, tensor<2x2x3xf32>, tensor<2xi32>, tensor<3xi32>) -> tensor<3x5xf32>
  "func.return"(%0) : (tensor<3x5xf32>) -> ()
}) : () -> ()

// -----

"func.func"() <{function_type = (tensor<3x4xf32>, tensor<5x6xf32>) -> tensor<3x6xf32>, sym_name = "matmul_contracting_dimensions_differ"}> ({
^bb0(%arg0: tensor<3x4xf32>, %arg1: tensor<5x6xf32>):
  // expected-error @+1 {{'sparsec.matmul' op contracting dimensions differ: 4 vs 5}}
  %0 = "sparsec.matmul"(%arg0, %arg1) : (tensor<3x4xf32>, tensor<5x6xf32>) -> tensor<3x6xf32>
  "func.return"(%0) : (tensor<3x6xf32>) -> ()
}) : () -> ()

// -----

"func.func"() <{function_type = (tensor<4xf32>, tensor<4x6xf32>) -> tensor<6xf32>, sym_name = "matmul_rank_2"}> ({
^bb0(%arg0: tensor<4xf32>, %arg1: tensor<4x6xf32>):
  // expected-error @+1 {{'sparsec.matmul' op matmul needs rank>=2 operands, got tensor<4xf32> and tensor<4x6xf32>}}
  %0 = "sparsec.matmul"(%arg0, %arg1) : (tensor<4xf32>, tensor<4x6xf32>) -> tensor<6xf32>
  "func.return"(%0) : (tensor<6xf32>) -> ()
}) : () -> ()

// -----

"func.func"() <{function_type = (tensor<1x3x8xf32>, tensor<1x5x8xf32>, tensor<1x5x6xf32>, tensor<1x3x5xi64>) -> tensor<1x3x6xf32>, sym_name = "attention_mask_must_be_i1"}> ({
^bb0(%arg0: tensor<1x3x8xf32>, %arg1: tensor<1x5x8xf32>, %arg2: tensor<1x5x6xf32>, %arg3: tensor<1x3x5xi64>):
  // expected-error @+1 {{'sparsec.attention' op mask must be i1 (true = keep) or f32 (additive), got tensor<1x3x5xi64>}}
  %0 = "sparsec.attention"(%arg0, %arg1, %arg2, %arg3) <{scale = 1.0 : f64}> : (tensor<1x3x8xf32>, tensor<1x5x8xf32>, tensor<1x5x6xf32>, tensor<1x3x5xi64>) -> tensor<1x3x6xf32>
  "func.return"(%0) : (tensor<1x3x6xf32>) -> ()
}) : () -> ()

// -----

"func.func"() <{function_type = (tensor<1x3x8xf32>, tensor<1x5x8xf32>, tensor<1x5x6xf32>, tensor<1x3x4xf32>) -> tensor<1x3x6xf32>, sym_name = "attention_do_not_broadcast"}> ({
^bb0(%arg0: tensor<1x3x8xf32>, %arg1: tensor<1x5x8xf32>, %arg2: tensor<1x5x6xf32>, %arg3: tensor<1x3x4xf32>):
  // expected-error @+1 {{'sparsec.attention' op shapes [1, 3, 4] and [1, 3, 5] do not broadcast}}
  %0 = "sparsec.attention"(%arg0, %arg1, %arg2, %arg3) <{scale = 1.0 : f64}> : (tensor<1x3x8xf32>, tensor<1x5x8xf32>, tensor<1x5x6xf32>, tensor<1x3x4xf32>) -> tensor<1x3x6xf32>
  "func.return"(%0) : (tensor<1x3x6xf32>) -> ()
}) : () -> ()

// -----

"func.func"() <{function_type = (tensor<1x3x8xf32>, tensor<1x5x7xf32>, tensor<1x5x6xf32>) -> tensor<1x3x6xf32>, sym_name = "attention_head_sizes_differ"}> ({
^bb0(%arg0: tensor<1x3x8xf32>, %arg1: tensor<1x5x7xf32>, %arg2: tensor<1x5x6xf32>):
  // expected-error @+1 {{'sparsec.attention' op query and key head sizes differ: 8 vs 7}}
  %0 = "sparsec.attention"(%arg0, %arg1, %arg2) <{scale = 1.0 : f64}> : (tensor<1x3x8xf32>, tensor<1x5x7xf32>, tensor<1x5x6xf32>) -> tensor<1x3x6xf32>
  "func.return"(%0) : (tensor<1x3x6xf32>) -> ()
}) : () -> ()
