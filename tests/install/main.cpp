#include <concur/concur.hpp>

#include <iostream>
#include <numeric>
#include <vector>

int main() {
  concur::ThreadPool pool(2);
  std::vector<int> inputs(100);
  std::iota(inputs.begin(), inputs.end(), 0);
  long sum = 0;
  for (int square : pool.map([](int x) { return x * x; }, inputs)) sum += square;
  std::cout << "sum of squares 0..99 = " << sum << "\n";
  return sum == 328350 ? 0 : 1;
}
