// -o writes the result to a file, atomically: a failed run leaves nothing behind.
// RUN: rm -rf %t && mkdir %t
// RUN: sparsec opt %s -p canonicalize -o %t/out.mlir && filecheck %s < %t/out.mlir
// RUN: ls -A %t | not grep -v '^out.mlir$'
// RUN: not sparsec opt %s -p nosuchpass -o %t/bad.mlir 2>/dev/null && test ! -e %t/bad.mlir
// RUN: echo 'not IR' > %t/broken.mlir
// RUN: not sparsec opt %t/broken.mlir -o %t/bad.mlir 2>/dev/null && test ! -e %t/bad.mlir
// RUN: ls -A %t | not grep -v -e '^out.mlir$' -e '^broken.mlir$'
// RUN: not sparsec opt %s -o %t/no/such/dir/out.mlir 2>&1 | filecheck %s --check-prefix=NODIR

// CHECK: sym_name = "f"
// CHECK: "func.return"(%arg0)
// NODIR: error: cannot write '{{.*}}/no/such/dir/out.mlir': No such file or directory

"func.func"() <{function_type = (tensor<4xf32>) -> tensor<4xf32>, sym_name = "f"}> ({
^bb0(%arg0: tensor<4xf32>):
  %0 = "sparsec.neg"(%arg0) : (tensor<4xf32>) -> tensor<4xf32>
  %1 = "sparsec.neg"(%0) : (tensor<4xf32>) -> tensor<4xf32>
  "func.return"(%1) : (tensor<4xf32>) -> ()
}) : () -> ()
