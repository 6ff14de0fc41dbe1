print("sagemaker-callback")
