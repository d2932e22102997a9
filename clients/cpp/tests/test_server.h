// Starts the real Python paysig server (python -m paysig serve) on a free port.
#ifndef PAYSIG_TESTS_TEST_SERVER_H_
#define PAYSIG_TESTS_TEST_SERVER_H_

#include <sys/types.h>

#include <string>
#include <thread>

namespace paysig::testing {

class TestServer {
 public:
  // `config` is absolute or relative to the repository root. Aborts the test binary with
  // a message if the server does not start.
  explicit TestServer(const std::string& config);
  ~TestServer();  // SIGTERM, then wait
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  const std::string& address() const { return address_; }
  // Exit status of the server after Stop(); -1 before.
  int Stop();

 private:
  pid_t pid_ = -1;
  int stderr_fd_ = -1;
  int exit_status_ = -1;
  std::string address_;
  std::thread drain_;
};

// PAYSIG_REPO, the repository root (compile-time default, env override).
std::string RepoRoot();

}  // namespace paysig::testing

#endif  // PAYSIG_TESTS_TEST_SERVER_H_
